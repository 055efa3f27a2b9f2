#!/usr/bin/env bash
# Large-zone benchmark: load time and resident memory of pooldns vs Knot DNS
# for one zone of 1,000,000 records. See benches/README.md.
#
# Environment (all optional):
#   SERVERS         "pooldns knot" (default) | "knot" | "pooldns"
#   RECORDS         number of host records, default 1000000
#   POOLDNS_BIN     use this binary instead of building with cargo
#   POOLDNS_PORT, POOLDNS_API_PORT, KNOT_PORT   default 15363, 15390, 15364
#   KNOT_UDP_WORKERS, KNOT_TCP_WORKERS, KNOT_BG_WORKERS   default 2, 1, 1
#   SIGNED          1 (default) = also secure the zone and time pooldns's
#                   first signed start (served, then every RRset signed) and a restart
#                   (signatures read back from its cache on disk); 0 = skip
#   CHANGES         one-record changes timed on the signed zone, default 20
#   LOAD_TIMEOUT    seconds allowed for one import or one start, default 1800
#   SETTLE          seconds to wait after the server answers before reading
#                   memory, default 2
#   NOTE            free text stored in the JSON summary (e.g. the commit id)
#   RESULTS_FILE    also append the JSON summary line to this file
#   KEEP_TMP        1 = keep the work dir (zone, db, configs, logs)
#   BENCH_TMPDIR    parent of the work dir, default /var/tmp
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVERS=${SERVERS:-"pooldns knot"}
RECORDS=${RECORDS:-1000000}
POOLDNS_PORT=${POOLDNS_PORT:-15363}
POOLDNS_API_PORT=${POOLDNS_API_PORT:-15390}
KNOT_PORT=${KNOT_PORT:-15364}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-1800}
SETTLE=${SETTLE:-2}
ZONE=big.test.
CHANGES=${CHANGES:-20}
API_KEY=bench-zone-size-$$

check_servers_var
[[ $RECORDS =~ ^[0-9]+$ && $RECORDS -ge 20 ]] || die "RECORDS must be an integer >= 20"
require_tools kdig awk ss getconf
have_server knot && require_tools knotd
have_server pooldns && require_tools curl

ports=()
have_server pooldns && ports+=("$POOLDNS_PORT" "$POOLDNS_API_PORT")
have_server knot && ports+=("$KNOT_PORT")
check_ports_free "${ports[@]}"

have_server pooldns && ensure_pooldns_bin

make_tmp zonesize
T=$BENCH_TMP
mkdir -p "$T/src" "$T/knot" "$T/pooldns/zones"

# --------------------------------------------------------------------------
# zone: h000000 .. h(N-1), one record per name. By i % 20:
#   0-13 A (70%), 14-15 AAAA (10%), 16 TXT (5%), 17 MX (5%), 18-19 CNAME (10%,
#   to the A record h(i - i%20)). The last name is always an A record.
# --------------------------------------------------------------------------
ZFILE=$T/src/big.test.zone
LAST=$(printf 'h%06d' $((RECORDS - 1)))
log "generating $RECORDS-record zone"
t0=$EPOCHREALTIME
awk -v n="$RECORDS" '
BEGIN {
    print "$ORIGIN big.test."
    print "$TTL 3600"
    print "@\tSOA\tns1 hostmaster 2024010101 7200 3600 1209600 300"
    print "@\tNS\tns1"
    print "@\tNS\tns2"
    print "ns1\tA\t192.0.2.53"
    print "ns2\tA\t198.51.100.53"
    for (i = 0; i < n; i++) {
        k = (i == n - 1) ? 0 : i % 20
        name = sprintf("h%06d", i)
        if (k <= 13)      printf "%s\tA\t10.%d.%d.%d\n", name, int(i / 65536) % 256, int(i / 256) % 256, i % 256
        else if (k <= 15) printf "%s\tAAAA\t2001:db8::%x:%x\n", name, int(i / 65536), i % 65536
        else if (k == 16) printf "%s\tTXT\t\"host=%d owner=team%d\"\n", name, i, i % 97
        else if (k == 17) printf "%s\tMX\t%d mx%d.example.net.\n", name, 10 * (i % 3), i % 50
        else              printf "%s\tCNAME\th%06d\n", name, i - k
    }
}' >"$ZFILE"
ZONE_BYTES=$(stat -c %s "$ZFILE")
ZONE_RRS=$((RECORDS + 5))
log "zone: $ZONE_RRS records, $((ZONE_BYTES / 1048576)) MiB, generated in $(elapsed_since "$t0") s; last name $LAST.$ZONE"

# spot checks once a server answers: first, a CNAME, a TXT, an MX, last
spot_check() { # SERVER PORT
    local q r bad=0
    for q in "h000000 A" "h000018 A" "h000016 TXT" "h000017 MX" "$LAST A"; do
        # shellcheck disable=SC2086
        r=$(dns_probe "$2" ${q% *}.$ZONE ${q#* })
        [[ $r == NOERROR\ [1-9]* ]] || { log "CHECK $1: $q -> $r"; bad=1; }
    done
    r=$(dns_probe "$2" "nonexistent.$ZONE" A)
    [[ $r == NXDOMAIN\ 0 ]] || { log "CHECK $1: nonexistent A -> $r"; bad=1; }
    [[ $bad == 0 ]] || die "$1 answers wrongly for the big zone"
}

declare -A R
# --------------------------------------------------------------------------
# Knot: start until the last name answers
# --------------------------------------------------------------------------
if have_server knot; then
    write_knot_config "$T/knot/knot.conf" "$KNOT_PORT" "$T/knot" "$ZONE" "$ZFILE"
    log "knot: starting"
    t0=$EPOCHREALTIME
    start_knot "$T/knot/knot.conf" "$T/knot/knot.log"
    wait_answer "$KNOT_PORT" "$LAST.$ZONE" A "$LOAD_TIMEOUT" "$KNOT_PID" knotd "$T/knot/knot.log"
    R[knot_load]=$(awk -v a="$t0" -v b="$ANSWER_AT" 'BEGIN{printf "%.3f", b-a}')
    sleep "$SETTLE"
    read -r 'R[knot_rss]' 'R[knot_hwm]' < <(mem_kb "$KNOT_PID")
    spot_check knot "$KNOT_PORT"
    log "knot: serving after ${R[knot_load]} s, VmRSS ${R[knot_rss]} kB, VmHWM ${R[knot_hwm]} kB"
    stop_pid "$KNOT_PID"
fi

# --------------------------------------------------------------------------
# pooldns: `zone import` time, then `serve` until /readyz 200 and the last
# name answers
# --------------------------------------------------------------------------
if have_server pooldns; then
    CONF=$T/pooldns/pooldns.toml
    # zones.directory is left empty: the zone comes from the import
    write_pooldns_config "$CONF" "$POOLDNS_PORT" "$POOLDNS_API_PORT" "$T/pooldns/pooldns.db" "$T/pooldns/zones"
    sed -i "/^\[api\]/a api_key = \"$API_KEY\"" "$CONF"
    log "pooldns: zone import"
    TIMEV=()
    [[ -x /usr/bin/time ]] && TIMEV=(/usr/bin/time -f '%M' -o "$T/pooldns/import.maxrss")
    t0=$EPOCHREALTIME
    timeout "$LOAD_TIMEOUT" "${TIMEV[@]}" "$POOLDNS_BIN" zone import "$ZFILE" --config "$CONF" \
        >"$T/pooldns/import.log" 2>&1 || { tail -n 30 "$T/pooldns/import.log" >&2; die "pooldns zone import failed"; }
    R[pooldns_import]=$(elapsed_since "$t0")
    R[pooldns_import_hwm]=null
    [[ -s $T/pooldns/import.maxrss ]] && R[pooldns_import_hwm]=$(tail -n1 "$T/pooldns/import.maxrss")
    R[pooldns_db_bytes]=$(du -cb "$T/pooldns"/pooldns.db* 2>/dev/null | tail -n1 | cut -f1)
    log "pooldns: import took ${R[pooldns_import]} s (peak RSS ${R[pooldns_import_hwm]} kB), store $((R[pooldns_db_bytes] / 1048576)) MiB"
    log "pooldns: serve"
    t0=$EPOCHREALTIME
    start_pooldns "$CONF" "$T/pooldns/pooldns.log"
    wait_readyz "$POOLDNS_API_PORT" "$LOAD_TIMEOUT" "$POOLDNS_PID" "$T/pooldns/pooldns.log"
    R[pooldns_readyz]=$(elapsed_since "$t0")
    wait_answer "$POOLDNS_PORT" "$LAST.$ZONE" A "$LOAD_TIMEOUT" "$POOLDNS_PID" pooldns "$T/pooldns/pooldns.log"
    R[pooldns_start]=$(awk -v a="$t0" -v b="$ANSWER_AT" 'BEGIN{printf "%.3f", b-a}')
    R[pooldns_load]=$(awk -v a="${R[pooldns_import]}" -v b="${R[pooldns_start]}" 'BEGIN{printf "%.3f", a+b}')
    sleep "$SETTLE"
    read -r 'R[pooldns_rss]' 'R[pooldns_hwm]' < <(mem_kb "$POOLDNS_PID")
    spot_check pooldns "$POOLDNS_PORT"
    log "pooldns: readyz after ${R[pooldns_readyz]} s, serving after ${R[pooldns_start]} s, VmRSS ${R[pooldns_rss]} kB, VmHWM ${R[pooldns_hwm]} kB"
    stop_pid "$POOLDNS_PID"
fi

# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
if have_server pooldns && [[ ${SIGNED:-1} == 1 ]]; then
    log "pooldns: securing the zone (ECDSAP256SHA256, NSEC)"
    "$POOLDNS_BIN" zone secure "$ZONE" --config "$CONF" >>"$T/pooldns/import.log" 2>&1 || die "pooldns zone secure failed"
    for phase in signed_first signed_restart; do
        t0=$EPOCHREALTIME
        start_pooldns "$CONF" "$T/pooldns/pooldns-$phase.log"
        wait_readyz "$POOLDNS_API_PORT" "$LOAD_TIMEOUT" "$POOLDNS_PID" "$T/pooldns/pooldns-$phase.log"
        R[pooldns_$phase]=$(elapsed_since "$t0")
        # Served at once, the zone is signed meanwhile: wait for the end,
        # so the restart finds every signature on disk.
        until grep -q "zone signed" "$T/pooldns/pooldns-$phase.log"; do
            kill -0 "$POOLDNS_PID" 2>/dev/null || die "pooldns exited during $phase"
            sleep 0.1
        done
        R[pooldns_${phase}_signed]=$(elapsed_since "$t0")
        sleep "$SETTLE"
        read -r "R[pooldns_${phase}_rss]" "R[pooldns_${phase}_hwm]" < <(mem_kb "$POOLDNS_PID")
        kdig @127.0.0.1 -p "$POOLDNS_PORT" +dnssec +norec "$LAST.$ZONE" A | grep -q "RRSIG" ||
            die "pooldns answers $LAST.$ZONE without RRSIG after $phase"
        log "pooldns: $phase: ready after ${R[pooldns_$phase]} s, every RRset signed after ${R[pooldns_${phase}_signed]} s, VmRSS ${R[pooldns_${phase}_rss]} kB, VmHWM ${R[pooldns_${phase}_hwm]} kB"
        stop_pid "$POOLDNS_PID"
    done
    R[pooldns_signature_cache_bytes]=$(du -cb "$T/pooldns/signatures" 2>/dev/null | tail -n1 | cut -f1)

    # One-record changes to the signed zone through the HTTP API: time from
    # the request to the new, signed answer, and what they cost in memory.
    log "pooldns: $CHANGES one-record changes to the signed zone"
    start_pooldns "$CONF" "$T/pooldns/pooldns-changes.log"
    wait_readyz "$POOLDNS_API_PORT" "$LOAD_TIMEOUT" "$POOLDNS_PID" "$T/pooldns/pooldns-changes.log"
    # Memory before the changes is measured once the background signing
    # (signatures read from disk, every RRset signed) is over.
    until grep -q "zone signed" "$T/pooldns/pooldns-changes.log"; do
        kill -0 "$POOLDNS_PID" 2>/dev/null || die "pooldns exited before signing the zone"
        sleep 0.1
    done
    sleep "$SETTLE"
    read -r 'R[pooldns_changes_rss_before]' _ < <(mem_kb "$POOLDNS_PID")
    times=()
    for i in $(seq "$CHANGES"); do
        address=192.0.2.$((i % 250 + 1))
        t0=$EPOCHREALTIME
        curl -sf -X PATCH -H "X-API-Key: $API_KEY" -H 'Content-Type: application/json' \
            -d "{\"rrsets\":[{\"name\":\"h000007.$ZONE\",\"type\":\"A\",\"ttl\":3600,\"changetype\":\"REPLACE\",\"records\":[{\"content\":\"$address\",\"disabled\":false}]}]}" \
            "http://127.0.0.1:$POOLDNS_API_PORT/api/v1/servers/localhost/zones/$ZONE" >/dev/null ||
            die "pooldns: the change through the API failed"
        until kdig @127.0.0.1 -p "$POOLDNS_PORT" +dnssec +norec "h000007.$ZONE" A 2>/dev/null | grep -q "A.*$address\$"; do
            (($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print (b-a > 60)}'))) && die "pooldns: change $i never served"
        done
        times+=("$(elapsed_since "$t0")")
    done
    kdig @127.0.0.1 -p "$POOLDNS_PORT" +dnssec +norec "h000007.$ZONE" A | grep -q RRSIG || die "pooldns: the changed name is not signed"
    sleep "$SETTLE"
    read -r 'R[pooldns_changes_rss_after]' _ < <(mem_kb "$POOLDNS_PID")
    stop_pid "$POOLDNS_PID"
    read -r 'R[pooldns_change_median]' 'R[pooldns_change_max]' < <(printf '%s\n' "${times[@]}" | sort -n |
        awk '{v[NR]=$1} END {printf "%.3f %.3f\n", v[int((NR+1)/2)], v[NR]}')
    read -r 'R[pooldns_change_server_median_ms]' 'R[pooldns_change_server_max_ms]' < <(
        sed -n 's/.*zone changed in place.*elapsed=\([0-9.]*\)\(m\?s\).*/\1 \2/p' "$T/pooldns/pooldns-changes.log" |
            awk '{ms = ($2 == "s") ? $1 * 1000 : $1; print ms}' | sort -n |
            awk '{v[NR]=$1} END {if (NR == 0) print "- -"; else printf "%.1f %.1f\n", v[int((NR+1)/2)], v[NR]}')
    log "pooldns: change served after ${R[pooldns_change_median]} s median, ${R[pooldns_change_max]} s max (in the server: ${R[pooldns_change_server_median_ms]} ms median, ${R[pooldns_change_server_max_ms]} ms max); VmRSS ${R[pooldns_changes_rss_before]} -> ${R[pooldns_changes_rss_after]} kB"
fi

g() { echo "${R[$1]:--}"; }
mib() { if [[ $1 == - || $1 == null ]]; then echo -; else awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; fi; }
ratio() { if [[ $1 == - || $2 == - ]]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "-"; else printf "%.3f", a/b}'; fi; }
j() { if [[ $1 == - ]]; then echo null; else echo "$1"; fi; }

echo
echo "zone $ZONE: $ZONE_RRS records, $((ZONE_BYTES / 1048576)) MiB zone file; each server loaded alone on $(nproc) CPUs"
printf '%-8s %12s %12s %12s %12s %12s\n' server "load s" "import s" "start s" "VmRSS MiB" "VmHWM MiB"
if have_server pooldns; then
    printf '%-8s %12s %12s %12s %12s %12s\n' pooldns "$(g pooldns_load)" "$(g pooldns_import)" "$(g pooldns_start)" \
        "$(mib "$(g pooldns_rss)")" "$(mib "$(g pooldns_hwm)")"
fi
if have_server knot; then
    printf '%-8s %12s %12s %12s %12s %12s\n' knot "$(g knot_load)" - "$(g knot_load)" \
        "$(mib "$(g knot_rss)")" "$(mib "$(g knot_hwm)")"
fi
RL=$(ratio "$(g pooldns_load)" "$(g knot_load)")
RR=$(ratio "$(g pooldns_rss)" "$(g knot_rss)")
RH=$(ratio "$(g pooldns_hwm)" "$(g knot_hwm)")
printf '%-8s %12s %12s %12s %12s %12s\n' "p/k" "$RL" - - "$RR" "$RH"
if [[ -n ${R[pooldns_signed_first]:-} ]]; then
    echo "pooldns signed: first start served after $(g pooldns_signed_first) s (every RRset signed after $(g pooldns_signed_first_signed) s), VmHWM $(mib "$(g pooldns_signed_first_hwm)") MiB;" \
        "restart (signatures from disk, $(mib $(($(g pooldns_signature_cache_bytes) / 1024))) MiB) served after $(g pooldns_signed_restart) s (signed after $(g pooldns_signed_restart_signed) s), VmHWM $(mib "$(g pooldns_signed_restart_hwm)") MiB;" \
        "restart/unsigned start $(ratio "$(g pooldns_signed_restart)" "$(g pooldns_readyz)")"
    echo "pooldns signed, $CHANGES one-record changes through the API: served after $(g pooldns_change_median) s median, $(g pooldns_change_max) s max" \
        "(changed in place in $(g pooldns_change_server_median_ms) ms median, $(g pooldns_change_server_max_ms) ms max);" \
        "VmRSS $(mib "$(g pooldns_changes_rss_before)") -> $(mib "$(g pooldns_changes_rss_after)") MiB"
fi
if have_server pooldns && [[ ${R[pooldns_import_hwm]} != null ]]; then
    echo "pooldns zone import peak RSS: $(mib "${R[pooldns_import_hwm]}") MiB; store on disk: $(mib $((R[pooldns_db_bytes] / 1024))) MiB"
fi

line="{\"bench\":\"zone-size\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"records\":$ZONE_RRS,\"zone_bytes\":$ZONE_BYTES"
line+=",\"pooldns_load_s\":$(j "$(g pooldns_load)"),\"pooldns_import_s\":$(j "$(g pooldns_import)"),\"pooldns_start_s\":$(j "$(g pooldns_start)"),\"pooldns_readyz_s\":$(j "$(g pooldns_readyz)")"
line+=",\"pooldns_rss_kb\":$(j "$(g pooldns_rss)"),\"pooldns_hwm_kb\":$(j "$(g pooldns_hwm)"),\"pooldns_import_hwm_kb\":$(j "$(g pooldns_import_hwm)"),\"pooldns_db_bytes\":$(j "$(g pooldns_db_bytes)")"
line+=",\"pooldns_signed_first_signed_s\":$(j "$(g pooldns_signed_first_signed)"),\"pooldns_signed_restart_signed_s\":$(j "$(g pooldns_signed_restart_signed)")"
line+=",\"pooldns_signed_first_s\":$(j "$(g pooldns_signed_first)"),\"pooldns_signed_restart_s\":$(j "$(g pooldns_signed_restart)"),\"pooldns_signed_restart_hwm_kb\":$(j "$(g pooldns_signed_restart_hwm)"),\"pooldns_signed_first_hwm_kb\":$(j "$(g pooldns_signed_first_hwm)")"
line+=",\"pooldns_change_s_median\":$(j "$(g pooldns_change_median)"),\"pooldns_change_s_max\":$(j "$(g pooldns_change_max)"),\"pooldns_change_in_place_ms_median\":$(j "$(g pooldns_change_server_median_ms)"),\"pooldns_change_in_place_ms_max\":$(j "$(g pooldns_change_server_max_ms)"),\"pooldns_changes_rss_before_kb\":$(j "$(g pooldns_changes_rss_before)"),\"pooldns_changes_rss_after_kb\":$(j "$(g pooldns_changes_rss_after)")"
line+=",\"knot_load_s\":$(j "$(g knot_load)"),\"knot_rss_kb\":$(j "$(g knot_rss)"),\"knot_hwm_kb\":$(j "$(g knot_hwm)")"
line+=",\"ratio_load\":$(j "$RL"),\"ratio_rss\":$(j "$RR"),\"ratio_hwm\":$(j "$RH"),\"knot_udp_workers\":$KNOT_UDP_WORKERS,\"knot_bg_workers\":$KNOT_BG_WORKERS,$(tool_versions)}"
echo
echo "SUMMARY $line"
if [[ -n ${RESULTS_FILE:-} ]]; then echo "$line" >>"$RESULTS_FILE"; log "summary appended to $RESULTS_FILE"; fi
exit 0
