#!/usr/bin/env bash
# UDP query-throughput benchmark: pooldns vs Knot DNS on the same zone,
# same machine, measured with dnsperf. See benches/README.md.
#
# Environment (all optional):
#   SERVERS       "pooldns knot" (default) | "knot" | "pooldns"
#   LOADS         "hot nxdomain" (default)
#   DURATION      seconds per dnsperf run (-l), default 5
#   ROUNDS        rounds per load, default 3
#   CLIENTS       dnsperf -c, default 4
#   OUTSTANDING   dnsperf -q, default 200
#   WARMUP        seconds of unmeasured load per server and load before the
#                 rounds, default 1 (0 = none)
#   POOLDNS_BIN   use this binary instead of building with cargo
#   POOLDNS_PORT, POOLDNS_API_PORT, KNOT_PORT   default 15353, 15380, 15354
#   KNOT_UDP_WORKERS, KNOT_TCP_WORKERS, KNOT_BG_WORKERS   default 2, 1, 1
#   START_TIMEOUT seconds to wait for a server to answer, default 120
#   CHECK         1 (default): check answers before measuring; 0 = skip
#   RRL           responses a second per client prefix: turns on response
#                 rate limiting in both servers ([rrl] rate, Knot's mod-rrl
#                 rate-limit); above the load it measures what checking
#                 every answer costs, below it that the rate holds. Compare
#                 pooldns with and without: Knot 3.2's module was seen
#                 limiting loads well under its rate here. Default: off
#                 While each round runs, a bystander in another /24
#                 (127.0.1.2) asks www.bench.test A ten times a second: the
#                 share it gets answered says whether the load, limited or
#                 not, leaves other clients served.
#   NOTE          free text stored in the JSON summary (e.g. the commit id)
#   RESULTS_FILE  also append the JSON summary lines to this file
#   KEEP_TMP      1 = keep the work dir (configs, logs, dnsperf outputs)
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVERS=${SERVERS:-"pooldns knot"}
LOADS=${LOADS:-"hot nxdomain"}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-200}
WARMUP=${WARMUP:-1}
POOLDNS_PORT=${POOLDNS_PORT:-15353}
POOLDNS_API_PORT=${POOLDNS_API_PORT:-15380}
KNOT_PORT=${KNOT_PORT:-15354}
START_TIMEOUT=${START_TIMEOUT:-120}
CHECK=${CHECK:-1}
RRL=${RRL:-}
NX_COUNT=100000
ZONE=bench.test.

check_servers_var
for l in $LOADS; do
    case $l in hot|nxdomain) ;; *) die "LOADS may only contain 'hot' and 'nxdomain'";; esac
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "DURATION must be a positive integer"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be an integer >= 0"
[[ -z $RRL || $RRL =~ ^[1-9][0-9]*$ ]] || die "RRL must be a positive integer"
require_tools dnsperf kdig awk ss getconf
have_server knot && require_tools knotd
have_server pooldns && require_tools curl

ports=()
have_server pooldns && ports+=("$POOLDNS_PORT" "$POOLDNS_API_PORT")
have_server knot && ports+=("$KNOT_PORT")
check_ports_free "${ports[@]}"

have_server pooldns && ensure_pooldns_bin

make_tmp dnsperf
T=$BENCH_TMP
mkdir -p "$T/zones" "$T/knot" "$T/pooldns" "$T/out"

# --------------------------------------------------------------------------
# 1. zone + query files
# --------------------------------------------------------------------------
write_bench_zone "$T/zones/bench.test.zone"
write_hot_queries "$T/hot.txt"
write_nxdomain_queries "$T/nxdomain.txt" "$NX_COUNT"
log "zone: $(grep -cvE '^\s*(;|\$|$)' "$T/zones/bench.test.zone") records; hot: $(wc -l <"$T/hot.txt") queries; nxdomain: $NX_COUNT queries (sha1 $(sha1sum "$T/nxdomain.txt" | cut -c1-12))"

# --------------------------------------------------------------------------
# 2. servers
# --------------------------------------------------------------------------
declare -A PORT PID
if have_server knot; then
    if [[ -n $RRL ]]; then
        write_knot_config "$T/knot/knot.conf" "$KNOT_PORT" "$T/knot" "$ZONE" "$T/zones/bench.test.zone" \
            "$(printf 'mod-rrl:\n  - id: bench\n    rate-limit: %s\n    slip: 2' "$RRL")" "    module: mod-rrl/bench"
    else
        write_knot_config "$T/knot/knot.conf" "$KNOT_PORT" "$T/knot" "$ZONE" "$T/zones/bench.test.zone"
    fi
    start_knot "$T/knot/knot.conf" "$T/knot/knot.log"
    PORT[knot]=$KNOT_PORT PID[knot]=$KNOT_PID
    wait_answer "$KNOT_PORT" "www.$ZONE" A "$START_TIMEOUT" "$KNOT_PID" knotd "$T/knot/knot.log"
    log "knotd pid $KNOT_PID on 127.0.0.1:$KNOT_PORT (udp-workers $KNOT_UDP_WORKERS, tcp-workers $KNOT_TCP_WORKERS, background-workers $KNOT_BG_WORKERS)"
fi
if have_server pooldns; then
    write_pooldns_config "$T/pooldns/pooldns.toml" "$POOLDNS_PORT" "$POOLDNS_API_PORT" \
        "$T/pooldns/pooldns.db" "$T/zones"
    if [[ -n $RRL ]]; then
        printf '\n[rrl]\nrate = %s\nslip = 2\n' "$RRL" >>"$T/pooldns/pooldns.toml"
    fi
    start_pooldns "$T/pooldns/pooldns.toml" "$T/pooldns/pooldns.log"
    PORT[pooldns]=$POOLDNS_PORT PID[pooldns]=$POOLDNS_PID
    wait_readyz "$POOLDNS_API_PORT" "$START_TIMEOUT" "$POOLDNS_PID" "$T/pooldns/pooldns.log"
    wait_answer "$POOLDNS_PORT" "www.$ZONE" A "$START_TIMEOUT" "$POOLDNS_PID" pooldns "$T/pooldns/pooldns.log"
    log "pooldns pid $POOLDNS_PID on 127.0.0.1:$POOLDNS_PORT"
fi

# Sanity: a benchmark of wrong answers is worthless. Every hot query must be
# NOERROR with an answer, the first 50 random names NXDOMAIN.
if [[ $CHECK == 1 ]]; then
    bad=0
    for s in $SERVERS; do
        while read -r name type; do
            r=$(dns_probe "${PORT[$s]}" "$name" "$type")
            [[ $r == NOERROR\ [1-9]* ]] || { log "CHECK $s: $name $type -> $r (want NOERROR with answer)"; bad=1; }
        done <"$T/hot.txt"
        while read -r name type; do
            r=$(dns_probe "${PORT[$s]}" "$name" "$type")
            [[ $r == NXDOMAIN\ 0 ]] || { log "CHECK $s: $name $type -> $r (want NXDOMAIN)"; bad=1; }
        done < <(head -n 50 "$T/nxdomain.txt")
    done
    [[ $bad == 0 ]] || die "answer check failed (CHECK=0 skips it)"
    log "answer check passed for: $SERVERS"
fi

# --------------------------------------------------------------------------
# 3. load
# --------------------------------------------------------------------------
expected_rcode() { [[ $1 == hot ]] && echo NOERROR || echo NXDOMAIN; }

ROUNDS_TSV=$T/rounds.tsv
: >"$ROUNDS_TSV"
VERSIONS=$(tool_versions)
# Resident memory (kB) of each server before and after each load: a flood
# of unique names must not grow it.
declare -A RSS_BEFORE RSS_AFTER
# The bystander's queries per load and server: "answered sent".
declare -A BYSTANDER

declare -A RRL_BEFORE RRL_AFTER

for load in $LOADS; do
    servers=($SERVERS)
    for s in "${servers[@]}"; do
        read -r rss _ < <(mem_kb "${PID[$s]}")
        RSS_BEFORE[$load,$s]=$rss
        BYSTANDER[$load,$s]="0 0"
    done
    have_server pooldns && RRL_BEFORE[$load]=$(rrl_counts "$POOLDNS_API_PORT")
    if (( WARMUP > 0 )); then
        for s in "${servers[@]}"; do
            log "warm-up: $load -> $s (${WARMUP}s)"
            run_dnsperf "$s" "$load" "$WARMUP" "$T/out/warmup-$load-$s.txt"
        done
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        # alternate the order each round (A B, B A, A B, ...)
        order=("${servers[@]}")
        if (( r % 2 == 0 && ${#servers[@]} == 2 )); then order=("${servers[1]}" "${servers[0]}"); fi
        for s in "${order[@]}"; do
            out=$T/out/$load-$s-$r.txt
            c0=$(cpu_ticks "${PID[$s]}")
            echo "0 0" >"$T/bystander.txt"
            bystander "${PORT[$s]}" "www.$ZONE" "$T/bystander.txt" &
            watcher=$!
            times >"$T/times0.txt"
            run_dnsperf "$s" "$load" "$DURATION" "$out"
            times >"$T/times1.txt"
            kill "$watcher" 2>/dev/null || true
            wait "$watcher" 2>/dev/null || true
            read -r b_ok b_sent <"$T/bystander.txt"
            read -r t_ok t_sent <<<"${BYSTANDER[$load,$s]}"
            BYSTANDER[$load,$s]="$((t_ok + b_ok)) $((t_sent + b_sent))"
            c1=$(cpu_ticks "${PID[$s]}")
            g0=$(children_ms "$T/times0.txt") g1=$(children_ms "$T/times1.txt")
            read -r sent done lost qps lat rc < <(parse_dnsperf "$out") || die "cannot parse $out"
            want=$(expected_rcode "$load")
            ok=$(tr ',' '\n' <<<"$rc" | awk -F: -v w="$want" '$1 == w {print $2}')
            unexpected=$(( done - ${ok:-0} ))
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                "$load" "$s" "$r" "$sent" "$done" "$lost" "$qps" "$lat" "$((c1 - c0))" "$unexpected" "$((g1 - g0))" >>"$ROUNDS_TSV"
            cpu_ms=$(( (c1 - c0) * 1000 / CLK_TCK ))
            log "$load round $r $s: $(printf '%.0f' "$qps") qps, $done answers, $lost lost, cpu ${cpu_ms} ms, rcodes $rc"
            echo "ROUND {\"bench\":\"dnsperf\",\"load\":\"$load\",\"server\":\"$s\",\"round\":$r,\"sent\":$sent,\"completed\":$done,\"lost\":$lost,\"qps\":$qps,\"avg_latency_s\":$lat,\"cpu_ms\":$cpu_ms,\"dnsperf_cpu_ms\":$((g1 - g0)),\"unexpected_rcode\":$unexpected,\"rcodes\":\"$rc\"}"
        done
    done
    for s in "${servers[@]}"; do
        read -r rss _ < <(mem_kb "${PID[$s]}")
        RSS_AFTER[$load,$s]=$rss
        log "$load: $s resident memory ${RSS_BEFORE[$load,$s]} kB before, $rss kB after; bystander answered/asked ${BYSTANDER[$load,$s]/ //}"
    done
    have_server pooldns && RRL_AFTER[$load]=$(rrl_counts "$POOLDNS_API_PORT")
done

# --------------------------------------------------------------------------
# 4. report
# --------------------------------------------------------------------------
# per load+server figures over all rounds (see summarise_rounds in lib.sh)
summarise() { summarise_rounds "$ROUNDS_TSV" "$@"; }

# "pooldns_bystander":[answered,sent],... for the servers measured.
bystander_json() {
    local s ok sent
    for s in $SERVERS; do
        read -r ok sent <<<"${BYSTANDER[$1,$s]}"
        printf '"%s_bystander":[%s,%s],' "$s" "$ok" "$sent"
    done
}

# pooldns's responses dropped and slipped (sent truncated) during the load.
rrl_json() {
    have_server pooldns || return 0
    local d0 s0 d1 s1
    read -r d0 s0 <<<"${RRL_BEFORE[$1]}"
    read -r d1 s1 <<<"${RRL_AFTER[$1]}"
    printf '"pooldns_rrl_dropped":%s,"pooldns_rrl_slipped":%s,' "$((d1 - d0))" "$((s1 - s0))"
}

fmt_ms() { if [[ $1 == - ]]; then echo -; else echo "$1 ms"; fi; }
j() { if [[ $1 == - ]]; then echo null; else echo "$1"; fi; }
ja() { if [[ $1 == - ]]; then echo null; else echo "[$1]"; fi; }
SUMMARY_LINES=()
NOTES=()

echo
echo "dnsperf -c $CLIENTS -q $OUTSTANDING -l $DURATION, $ROUNDS round(s), UDP over loopback, $(nproc) CPUs shared by dnsperf and the servers${RRL:+, response rate limiting at $RRL a second}"
printf '%-9s %12s %12s %8s %16s %16s %12s %12s\n' \
    load "pooldns qps" "knot qps" ratio "pooldns cpu/1k" "knot cpu/1k" "pooldns lost" "knot lost"
for load in $LOADS; do
    read -r pq pc pl pb plat pg pall < <(summarise "$load" pooldns)
    read -r kq kc kl kb klat kg kall < <(summarise "$load" knot)
    if [[ $pq != - && $kq != - && $kq != 0 ]]; then
        ratio=$(awk -v a="$pq" -v b="$kq" 'BEGIN{printf "%.3f", a/b}')
    else
        ratio=-
    fi
    printf '%-9s %12s %12s %8s %16s %16s %12s %12s\n' \
        "$load" "$pq" "$kq" "$ratio" "$(fmt_ms "$pc")" "$(fmt_ms "$kc")" "$pl" "$kl"
    if [[ $pb != - && $pb != 0 ]]; then log "WARNING: pooldns gave $pb answers with an rcode other than $(expected_rcode "$load") under load $load"; fi
    if [[ $kb != - && $kb != 0 ]]; then log "WARNING: knot gave $kb answers with an rcode other than $(expected_rcode "$load") under load $load"; fi
    line="{\"bench\":\"dnsperf\",\"load\":\"$load\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"duration_s\":$DURATION,\"rounds\":$ROUNDS,\"clients\":$CLIENTS,\"outstanding\":$OUTSTANDING,\"pooldns_qps\":$(j "$pq"),\"knot_qps\":$(j "$kq"),\"pooldns_qps_rounds\":$(ja "$pall"),\"knot_qps_rounds\":$(ja "$kall"),\"ratio\":$(j "$ratio"),\"pooldns_cpu_ms_per_1k\":$(j "$pc"),\"knot_cpu_ms_per_1k\":$(j "$kc"),\"pooldns_lost\":$(j "$pl"),\"knot_lost\":$(j "$kl"),\"pooldns_unexpected_rcode\":$(j "$pb"),\"knot_unexpected_rcode\":$(j "$kb"),\"pooldns_latency_ms\":$(j "$plat"),\"knot_latency_ms\":$(j "$klat"),\"dnsperf_cpu_ms_per_1k_vs_pooldns\":$(j "$pg"),\"dnsperf_cpu_ms_per_1k_vs_knot\":$(j "$kg"),\"knot_udp_workers\":$KNOT_UDP_WORKERS,\"rrl_rate\":$(j "${RRL:--}"),\"pooldns_rss_kb_before\":$(j "${RSS_BEFORE[$load,pooldns]:--}"),\"pooldns_rss_kb_after\":$(j "${RSS_AFTER[$load,pooldns]:--}"),\"knot_rss_kb_before\":$(j "${RSS_BEFORE[$load,knot]:--}"),\"knot_rss_kb_after\":$(j "${RSS_AFTER[$load,knot]:--}"),$(bystander_json "$load")$(rrl_json "$load")$VERSIONS}"
    SUMMARY_LINES+=("$line")
    NOTES+=("$load: dnsperf itself used $(fmt_ms "$pg") (vs pooldns) / $(fmt_ms "$kg") (vs knot) CPU per 1,000 answers (more if queries were lost: it spins while waiting them out); median avg latency $(fmt_ms "$plat") / $(fmt_ms "$klat")")
done
printf '%s\n' "${NOTES[@]}"
echo
for line in "${SUMMARY_LINES[@]}"; do
    echo "SUMMARY $line"
    if [[ -n ${RESULTS_FILE:-} ]]; then echo "$line" >>"$RESULTS_FILE"; fi
done
if [[ -n ${RESULTS_FILE:-} ]]; then log "summary appended to $RESULTS_FILE"; fi
exit 0
