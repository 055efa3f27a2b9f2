#!/usr/bin/env bash
# LUA record query-throughput benchmark: pooldns static answers vs pooldns
# LUA answers vs PowerDNS 4.7 LUA answers, on the same zone, same machine,
# measured with dnsperf. See benches/README.md.
#
# Environment (all optional):
#   SERVERS       "pooldns pdns" (default) | "pooldns" | "pdns"
#   LOADS         "static all pickrandom pickhashed ifurlup pickclosest"
#                 (default), any subset; static is the baseline of the
#                 LUA/static ratio
#   DURATION      seconds per dnsperf run (-l), default 5
#   ROUNDS        rounds per load, default 3
#   CLIENTS       dnsperf -c, default 4
#   OUTSTANDING   dnsperf -q, default 200
#   WARMUP        seconds of unmeasured load per server and load before the
#                 rounds, default 1 (0 = none)
#   POOLDNS_BIN   use this binary instead of building with cargo
#   GEOIP_MMDB    the MaxMind DB both servers use for pickclosest; default:
#                 PowerDNS's regression fixture, written by
#                 `cargo run --release -p testkit --example geoip_fixture`
#   POOLDNS_PORT, POOLDNS_API_PORT, PDNS_PORT, HTTP_PORT
#                 default 15573, 15580, 15575, 15590
#   HEALTH_INTERVAL   seconds between health checks, both servers, default 5
#                     (both servers' default)
#   PDNS_RECEIVER_THREADS, PDNS_DISTRIBUTOR_THREADS   default 2, 3
#   PDNS_CACHE_TTL    unset (default: PowerDNS's own, 20 s) or --cache-ttl
#   START_TIMEOUT seconds to wait for a server (and its health checks),
#                 default 120
#   CHECK         1 (default): check the answers before measuring; 0 = skip
#   NOTE          free text stored in the JSON summary (e.g. the commit id)
#   RESULTS_FILE  also append the JSON summary lines to this file
#   KEEP_TMP      1 = keep the work dir (zone, configs, logs, dnsperf outputs)
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SERVERS=(pooldns pdns)
ALL_LOADS=(static all pickrandom pickhashed ifurlup pickclosest)
SERVERS=${SERVERS:-"${ALL_SERVERS[*]}"}
LOADS=${LOADS:-"${ALL_LOADS[*]}"}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-200}
WARMUP=${WARMUP:-1}
POOLDNS_PORT=${POOLDNS_PORT:-15573}
POOLDNS_API_PORT=${POOLDNS_API_PORT:-15580}
PDNS_PORT=${PDNS_PORT:-15575}
HTTP_PORT=${HTTP_PORT:-15590}
HEALTH_INTERVAL=${HEALTH_INTERVAL:-5}
PDNS_RECEIVER_THREADS=${PDNS_RECEIVER_THREADS:-2}
PDNS_DISTRIBUTOR_THREADS=${PDNS_DISTRIBUTOR_THREADS:-3}
PDNS_CACHE_TTL=${PDNS_CACHE_TTL:-}
START_TIMEOUT=${START_TIMEOUT:-120}
CHECK=${CHECK:-1}
ZONE=lua.test.
# Goals (printed next to the figures): pooldns LUA answers at least this
# fraction of its static rate, and this many times PowerDNS's LUA rate.
GOAL_LUA_STATIC=0.8
GOAL_POOLDNS_PDNS=50
# EDNS Client Subnet 1.2.3.0/24 (RFC 7871 section 6: family 1, source 24,
# scope 0, 3 address octets), sent with every pickclosest query
ECS_HEX=00011800010203

check_servers_var "${ALL_SERVERS[@]}"
for l in $LOADS; do
    [[ " ${ALL_LOADS[*]} " == *" $l "* ]] || die "LOADS may only contain: ${ALL_LOADS[*]} (got '$l')"
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "DURATION must be a positive integer"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be an integer >= 0"
[[ $HEALTH_INTERVAL =~ ^[1-9][0-9]*$ ]] || die "HEALTH_INTERVAL must be a positive integer"
[[ $PDNS_RECEIVER_THREADS =~ ^[1-9][0-9]*$ ]] || die "PDNS_RECEIVER_THREADS must be a positive integer"
[[ $PDNS_DISTRIBUTOR_THREADS =~ ^[1-9][0-9]*$ ]] || die "PDNS_DISTRIBUTOR_THREADS must be a positive integer"
[[ -z $PDNS_CACHE_TTL || $PDNS_CACHE_TTL =~ ^[0-9]+$ ]] || die "PDNS_CACHE_TTL must be empty or an integer >= 0"
require_tools dnsperf kdig awk ss getconf python3
have_server pooldns && require_tools curl
have_server pdns && require_tools pdns_server pdns_control
if have_server pdns; then
    pdns_module=$(find /usr/lib -name 'libgeoipbackend.so' -print -quit 2>/dev/null) || true
    [[ -n $pdns_module ]] || die "PowerDNS geoip backend not installed (apt-get install pdns-backend-geoip pdns-backend-bind)"
fi

ports=("$HTTP_PORT")
have_server pooldns && ports+=("$POOLDNS_PORT" "$POOLDNS_API_PORT")
have_server pdns && ports+=("$PDNS_PORT")
check_ports_free "${ports[@]}"

have_server pooldns && ensure_pooldns_bin

# A build running next to the benchmark skews it (see dnssec.sh).
build_running() { pgrep '^(cargo|rustc)$' >/dev/null 2>&1; }
BUSY_ROUNDS=0

make_tmp lua
T=$BENCH_TMP
mkdir -p "$T/zones" "$T/pooldns" "$T/pdns" "$T/out" "$T/www"

# The GeoIP database: PowerDNS's regression fixture unless one is given.
if [[ -z ${GEOIP_MMDB:-} ]]; then
    GEOIP_MMDB=$T/fixture.mmdb
    log "writing the GeoIP fixture (cargo run --release -p testkit --example geoip_fixture)"
    (cd "$REPO_DIR" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/pooldns-target} \
        cargo run --quiet --release -p testkit --example geoip_fixture -- "$GEOIP_MMDB") >&2 \
        || die "cannot write the GeoIP fixture (set GEOIP_MMDB to a MaxMind DB file)"
fi
[[ -r $GEOIP_MMDB ]] || die "GEOIP_MMDB=$GEOIP_MMDB is not readable"
if build_running; then
    log "WARNING: cargo/rustc is running on this machine; the figures will be skewed:"
    pgrep -a '^(cargo|rustc)$' 2>/dev/null | cut -c1-120 | head -n 5 >&2 || true
fi

# --------------------------------------------------------------------------
# 1. health-check targets, zone, query files
# --------------------------------------------------------------------------
# Two HTTP servers on the same port, on 127.0.0.1 and 127.0.0.2, are the
# targets of ifurlup: both up. 127.0.0.3 has none: the down target of the
# health check verifying record `ifurlup-probe` (not measured).
echo "pooldns LUA benchmark health target" >"$T/www/index.html"
for ip in 127.0.0.1 127.0.0.2; do
    python3 -m http.server --bind "$ip" --directory "$T/www" "$HTTP_PORT" >"$T/http-$ip.log" 2>&1 &
    BENCH_PIDS+=("$!")
done
URL="http://check.lua.test:$HTTP_PORT/"
for ip in 127.0.0.1 127.0.0.2; do
    for _ in $(seq 50); do
        curl -s -o /dev/null --max-time 1 "http://$ip:$HTTP_PORT/" && break
        sleep 0.1
    done
    curl -s -o /dev/null --max-time 1 "http://$ip:$HTTP_PORT/" || die "the HTTP target on $ip:$HTTP_PORT does not answer"
done
log "HTTP health-check targets on 127.0.0.1:$HTTP_PORT and 127.0.0.2:$HTTP_PORT (python3 -m http.server)"

ZFILE=$T/zones/lua.test.zone
cat >"$ZFILE" <<EOF
; LUA benchmark zone, generated by benches/lua.sh
\$ORIGIN $ZONE
\$TTL 300
@            SOA  ns1 hostmaster 2024010101 7200 3600 1209600 300
@            NS   ns1
ns1          A    192.0.2.53
static       A    192.0.2.10
all          LUA  A "all({'192.0.2.1', '192.0.2.2'})"
pickrandom   LUA  A "pickrandom({'192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'})"
pickhashed   LUA  A "pickhashed({'192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'})"
ifurlup      LUA  A "ifurlup('$URL', {'127.0.0.1', '127.0.0.2'})"
ifurlup-probe LUA A "ifurlup('$URL', {'127.0.0.3', '127.0.0.1'})"
pickclosest  LUA  A "pickclosest({'1.1.1.2', '1.2.3.4', '192.0.2.1'})"
EOF
for l in $LOADS; do echo "$l.$ZONE A" >"$T/$l.txt"; done
log "zone: $(grep -cvE '^\s*(;|\$|$)' "$ZFILE") records; loads: $LOADS (one name each, dnsperf cycles it); pickclosest queries carry ECS 1.2.3.0/24 (-E 8:$ECS_HEX)"

# --------------------------------------------------------------------------
# 2. servers
# --------------------------------------------------------------------------
declare -A PORT PID

# PowerDNS: bind backend (the zone file as is) and geoip backend (the
# database for pickclosest); LUA records on; ECS honoured; caches at their
# defaults (the packet cache does not keep LUA answers).
if have_server pdns; then
    PD=$T/pdns
    printf 'zone "%s" { type master; file "%s"; };\n' "${ZONE%.}" "$ZFILE" >"$PD/named.conf"
    echo "domains: []" >"$PD/geo-zones.yaml"
    cat >"$PD/pdns.conf" <<EOF
# generated by pooldns benches/lua.sh — not a production config
launch=bind,geoip
bind-config=$PD/named.conf
geoip-database-files=$GEOIP_MMDB
geoip-zones-file=$PD/geo-zones.yaml
enable-lua-records=yes
edns-subnet-processing=yes
lua-health-checks-interval=$HEALTH_INTERVAL
security-poll-suffix=
EOF
    start_pdns "$PD"
    PORT[pdns]=$PDNS_PORT PID[pdns]=$PDNS_PID
    wait_answer "$PDNS_PORT" "static.$ZONE" A "$START_TIMEOUT" "$PDNS_PID" pdns_server "$PD/pdns.log"
    log "pdns_server pid $PDNS_PID on 127.0.0.1:$PDNS_PORT (receiver-threads $PDNS_RECEIVER_THREADS, distributor-threads $PDNS_DISTRIBUTOR_THREADS, cache-ttl ${PDNS_CACHE_TTL:-default})"
fi

# pooldns: imports the zone directory into a new store; ECS on, the same
# GeoIP database, the same health-check interval; otherwise its defaults.
if have_server pooldns; then
    CONF=$T/pooldns/pooldns.toml
    cat >"$CONF" <<EOF
[dns]
listen = ["127.0.0.1:$POOLDNS_PORT"]
ecs = true

[api]
listen = "127.0.0.1:$POOLDNS_API_PORT"

[store]
url = "sqlite://$T/pooldns/pooldns.db"

[zones]
directory = "$T/zones"

[health]
interval = $HEALTH_INTERVAL

[geoip]
mmdb = ["$GEOIP_MMDB"]
EOF
    start_pooldns "$CONF" "$T/pooldns/pooldns.log"
    PORT[pooldns]=$POOLDNS_PORT PID[pooldns]=$POOLDNS_PID
    wait_readyz "$POOLDNS_API_PORT" "$START_TIMEOUT" "$POOLDNS_PID" "$T/pooldns/pooldns.log"
    wait_answer "$POOLDNS_PORT" "static.$ZONE" A "$START_TIMEOUT" "$POOLDNS_PID" pooldns "$T/pooldns/pooldns.log"
    log "pooldns pid $POOLDNS_PID on 127.0.0.1:$POOLDNS_PORT"
fi

# --------------------------------------------------------------------------
# 3. answer checks
# --------------------------------------------------------------------------
# answers PORT NAME [KDIG OPTIONS...] -> "RCODE A1,A2,..." (addresses sorted)
answers() {
    local port=$1 name=$2
    shift 2
    kdig @127.0.0.1 -p "$port" +notcp +norecurse +time=1 +retry=1 "$@" "$name" A 2>/dev/null | awk '
    /status:/ { for (i = 1; i <= NF; i++) if ($i == "status:") { rc = $(i + 1); sub(/[;,]$/, "", rc) } }
    /^;/ || NF < 5 { next }
    $4 == "A" { a[++n] = $5 }
    END {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
        s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") a[i]
        printf "%s %s\n", (rc == "" ? "NONE" : rc), (s == "" ? "-" : s)
    }'
}

# expect_answer SERVER NAME PATTERN [KDIG OPTIONS...]: every one of 10
# queries must be NOERROR with an answer matching PATTERN (an ERE).
expect_answer() {
    local s=$1 name=$2 pattern=$3 r i
    shift 3
    for i in $(seq 10); do
        r=$(answers "${PORT[$s]}" "$name" "$@")
        if [[ ! $r =~ ^NOERROR\ ($pattern)$ ]]; then
            log "CHECK $s: $name A $* -> $r (want NOERROR with $pattern)"
            return 1
        fi
    done
}

# Health checks: wait until `ifurlup-probe` (127.0.0.3 down, 127.0.0.1 up)
# answers only 127.0.0.1 ten times in a row on SERVER: the checker runs and
# sees the HTTP targets. PowerDNS starts checking at the first query.
wait_health() {
    local s=$1 deadline ok=0 r
    deadline=$(( ${EPOCHREALTIME%.*} + START_TIMEOUT ))
    while (( ok < 10 )); do
        r=$(answers "${PORT[$s]}" "ifurlup-probe.$ZONE")
        if [[ $r == "NOERROR 127.0.0.1" ]]; then ok=$((ok + 1)); else ok=0; sleep 0.5; fi
        (( ${EPOCHREALTIME%.*} < deadline )) || die "$s: health checks did not see the HTTP target within ${START_TIMEOUT}s (last answer: $r)"
    done
}

for s in $SERVERS; do
    answers "${PORT[$s]}" "ifurlup.$ZONE" >/dev/null   # registers PowerDNS's checks
    wait_health "$s"
done
log "health checks up on: $SERVERS"

if [[ $CHECK == 1 ]]; then
    bad=0
    for s in $SERVERS; do
        for l in $LOADS; do
            case $l in
                static) expect_answer "$s" "static.$ZONE" '192\.0\.2\.10' || bad=1 ;;
                all) expect_answer "$s" "all.$ZONE" '192\.0\.2\.1,192\.0\.2\.2' || bad=1 ;;
                pickrandom|pickhashed) expect_answer "$s" "$l.$ZONE" '192\.0\.2\.[1-4]' || bad=1 ;;
                ifurlup) expect_answer "$s" "ifurlup.$ZONE" '127\.0\.0\.[12]' || bad=1 ;;
                pickclosest) expect_answer "$s" "pickclosest.$ZONE" '1\.2\.3\.4' +subnet=1.2.3.0/24 || bad=1 ;;
            esac
        done
        # hashed answers are stable per client
        if [[ " $LOADS " == *" pickhashed "* ]]; then
            h=$(for i in $(seq 10); do answers "${PORT[$s]}" "pickhashed.$ZONE"; done | sort -u | wc -l)
            [[ $h == 1 ]] || { log "CHECK $s: pickhashed gave $h different answers to one client"; bad=1; }
        fi
    done
    if have_server pooldns && have_server pdns && [[ " $LOADS " == *" pickhashed "* ]]; then
        a=$(answers "$POOLDNS_PORT" "pickhashed.$ZONE") b=$(answers "$PDNS_PORT" "pickhashed.$ZONE")
        [[ $a == "$b" ]] || { log "CHECK: pickhashed: pooldns $a, PowerDNS $b (want the same)"; bad=1; }
    fi
    [[ $bad == 0 ]] || die "answer check failed (CHECK=0 skips it)"
    log "answer check passed for: $SERVERS"
fi

# --------------------------------------------------------------------------
# 4. load
# --------------------------------------------------------------------------
ROUNDS_TSV=$T/rounds.tsv
: >"$ROUNDS_TSV"
VERSIONS=$(tool_versions)
PDNS_VERSION=$(pdns_server --version 2>&1 | sed -n 's/.*PowerDNS Authoritative Server \([^ ]*\).*/\1/p' | head -n1) || true
POOLDNS_VERSION=-
if have_server pooldns; then POOLDNS_VERSION=$("$POOLDNS_BIN" --version 2>/dev/null | awk '{print $NF}') || true; fi
# dnsperf flags of a load: ECS for pickclosest
load_flags() { if [[ $1 == pickclosest ]]; then DNSPERF_FLAGS=(-E "8:$ECS_HEX"); else DNSPERF_FLAGS=(); fi; }

read -ra servers <<<"$SERVERS"
for load in $LOADS; do
    load_flags "$load"
    if (( WARMUP > 0 )); then
        for s in "${servers[@]}"; do
            log "warm-up: $load -> $s (${WARMUP}s)"
            run_dnsperf "$s" "$load" "$WARMUP" "$T/out/warmup-$load-$s.txt"
        done
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        order=("${servers[@]}")
        if (( r % 2 == 0 && ${#servers[@]} == 2 )); then order=("${servers[1]}" "${servers[0]}"); fi
        for s in "${order[@]}"; do
            out=$T/out/$load-$s-$r.txt
            h0=0 m0=0 h1=0 m1=0
            if [[ $s == pdns ]]; then h0=$(pdns_stat "$T/pdns" packetcache-hit) m0=$(pdns_stat "$T/pdns" packetcache-miss); fi
            busy=0
            build_running && busy=1
            c0=$(cpu_ticks "${PID[$s]}")
            times >"$T/times0.txt"
            run_dnsperf "$s" "$load" "$DURATION" "$out"
            times >"$T/times1.txt"
            c1=$(cpu_ticks "${PID[$s]}")
            build_running && busy=1
            BUSY_ROUNDS=$((BUSY_ROUNDS + busy))
            if [[ $s == pdns ]]; then h1=$(pdns_stat "$T/pdns" packetcache-hit) m1=$(pdns_stat "$T/pdns" packetcache-miss); fi
            g0=$(children_ms "$T/times0.txt") g1=$(children_ms "$T/times1.txt")
            read -r sent ndone lost qps lat rc < <(parse_dnsperf "$out") || die "cannot parse $out"
            rbytes=$(dnsperf_resp_bytes "$out")
            ok=$(tr ',' '\n' <<<"$rc" | awk -F: '$1 == "NOERROR" {print $2}')
            unexpected=$(( ndone - ${ok:-0} ))
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                "$load" "$s" "$r" "$sent" "$ndone" "$lost" "$qps" "$lat" "$((c1 - c0))" "$unexpected" "$((g1 - g0))" >>"$ROUNDS_TSV"
            cpu_ms=$(( (c1 - c0) * 1000 / CLK_TCK ))
            extra=""
            if [[ $busy == 1 ]]; then extra+=", CARGO/RUSTC RUNNING"; fi
            if [[ $s == pdns ]]; then extra+=", packet cache $((h1 - h0)) hits / $((m1 - m0)) misses"; fi
            log "$load round $r $s: $(printf '%.0f' "$qps") qps, $ndone answers, $lost lost, cpu ${cpu_ms} ms, response $rbytes B, rcodes $rc$extra"
            echo "ROUND {\"bench\":\"lua\",\"load\":\"$load\",\"server\":\"$s\",\"round\":$r,\"sent\":$sent,\"completed\":$ndone,\"lost\":$lost,\"qps\":$qps,\"avg_latency_s\":$lat,\"cpu_ms\":$cpu_ms,\"dnsperf_cpu_ms\":$((g1 - g0)),\"unexpected_rcode\":$unexpected,\"rcodes\":\"$rc\",\"build_running\":$busy,\"response_bytes\":$( [[ $rbytes == - ]] && echo null || echo "$rbytes")$( [[ $s == pdns ]] && echo ",\"packetcache_hit\":$((h1 - h0)),\"packetcache_miss\":$((m1 - m0))")}"
        done
    done
done

# --------------------------------------------------------------------------
# 5. report
# --------------------------------------------------------------------------
ratio() { if [[ $1 == - || $2 == - ]]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "-"; else printf "%.3f", a/b}'; fi; }
goal() { # VALUE GOAL -> met / MISSED / -
    if [[ $1 == - ]]; then echo -; else awk -v a="$1" -v g="$2" 'BEGIN{ print (a >= g ? "met" : "MISSED") }'; fi
}
fmt_ms() { if [[ $1 == - ]]; then echo -; else echo "$1 ms"; fi; }
j() { if [[ $1 == - ]]; then echo null; else echo "$1"; fi; }
ja() { if [[ $1 == - ]]; then echo null; else echo "[$1]"; fi; }
SUMMARY_LINES=()

declare -A Q C L B LAT G ALL
for load in $LOADS; do
    for s in "${ALL_SERVERS[@]}"; do
        read -r "Q[$load|$s]" "C[$load|$s]" "L[$load|$s]" "B[$load|$s]" "LAT[$load|$s]" "G[$load|$s]" "ALL[$load|$s]" \
            < <(summarise_rounds "$ROUNDS_TSV" "$load" "$s")
    done
done
static_q=${Q[static|pooldns]:--}

echo
echo "LUA records, dnsperf -c $CLIENTS -q $OUTSTANDING -l $DURATION, $ROUNDS round(s), UDP over loopback, $(nproc) CPUs shared by dnsperf and the servers"
printf '%-12s %12s %10s %9s %9s %14s %14s %9s %9s\n' \
    load "pooldns qps" "pdns qps" "lua/stat" "pool/pdns" "pooldns cpu/1k" "pdns cpu/1k" "pool lost" "pdns lost"
for load in $LOADS; do
    pq=${Q[$load|pooldns]} dq=${Q[$load|pdns]}
    rs=-
    if [[ $load != static ]]; then rs=$(ratio "$pq" "$static_q"); fi
    rp=$(ratio "$pq" "$dq")
    printf '%-12s %12s %10s %9s %9s %14s %14s %9s %9s\n' "$load" "$pq" "$dq" "$rs" "$rp" \
        "$(fmt_ms "${C[$load|pooldns]}")" "$(fmt_ms "${C[$load|pdns]}")" "${L[$load|pooldns]}" "${L[$load|pdns]}"
    for s in "${ALL_SERVERS[@]}"; do
        b=${B[$load|$s]}
        if [[ $b != - && $b != 0 ]]; then log "WARNING: $s gave $b answers with an rcode other than NOERROR under load $load"; fi
    done
    gs=- gp=-
    if [[ $load != static ]]; then gs=$(goal "$rs" "$GOAL_LUA_STATIC") gp=$(goal "$rp" "$GOAL_POOLDNS_PDNS"); fi
    line="{\"bench\":\"lua\",\"load\":\"$load\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"duration_s\":$DURATION,\"rounds\":$ROUNDS,\"clients\":$CLIENTS,\"outstanding\":$OUTSTANDING,\"ecs\":$([[ $load == pickclosest ]] && echo '"1.2.3.0/24"' || echo null)"
    for s in "${ALL_SERVERS[@]}"; do
        line+=",\"${s}_qps\":$(j "${Q[$load|$s]}"),\"${s}_qps_rounds\":$(ja "${ALL[$load|$s]}"),\"${s}_cpu_ms_per_1k\":$(j "${C[$load|$s]}"),\"${s}_lost\":$(j "${L[$load|$s]}"),\"${s}_unexpected_rcode\":$(j "${B[$load|$s]}"),\"${s}_latency_ms\":$(j "${LAT[$load|$s]}"),\"dnsperf_cpu_ms_per_1k_vs_${s}\":$(j "${G[$load|$s]}")"
    done
    line+=",\"ratio_lua_static\":$(j "$rs"),\"ratio_pooldns_pdns\":$(j "$rp"),\"goal_lua_static\":$GOAL_LUA_STATIC,\"goal_lua_static_met\":$([[ $gs == - ]] && echo null || { [[ $gs == met ]] && echo true || echo false; }),\"goal_pooldns_pdns\":$GOAL_POOLDNS_PDNS,\"goal_pooldns_pdns_met\":$([[ $gp == - ]] && echo null || { [[ $gp == met ]] && echo true || echo false; })"
    line+=",\"health_interval_s\":$HEALTH_INTERVAL,\"pdns_receiver_threads\":$PDNS_RECEIVER_THREADS,\"pdns_distributor_threads\":$PDNS_DISTRIBUTOR_THREADS,\"pdns_cache_ttl\":$([[ -n $PDNS_CACHE_TTL ]] && echo "$PDNS_CACHE_TTL" || echo '"default"'),\"rounds_with_build_running\":$BUSY_ROUNDS,\"pdns_version\":\"${PDNS_VERSION:-?}\",\"pooldns_version\":\"${POOLDNS_VERSION:-?}\",$VERSIONS}"
    SUMMARY_LINES+=("$line")
done
echo "(lua/stat: pooldns qps of the load / pooldns qps of static, goal >= $GOAL_LUA_STATIC;"
echo " pool/pdns: pooldns qps / PowerDNS qps, goal >= $GOAL_POOLDNS_PDNS; cpu/1k: server CPU ms per 1,000 answers)"
for load in $LOADS; do
    [[ $load == static ]] && continue
    rs=$(ratio "${Q[$load|pooldns]}" "$static_q") rp=$(ratio "${Q[$load|pooldns]}" "${Q[$load|pdns]}")
    echo "$load: LUA/static $rs ($(goal "$rs" "$GOAL_LUA_STATIC")), pooldns/PowerDNS $rp ($(goal "$rp" "$GOAL_POOLDNS_PDNS"))"
done
if (( BUSY_ROUNDS > 0 )); then
    log "WARNING: cargo or rustc was running at the start or end of $BUSY_ROUNDS dnsperf run(s) (marked in the ROUND lines): the figures are skewed"
fi
echo
for line in "${SUMMARY_LINES[@]}"; do
    echo "SUMMARY $line"
    if [[ -n ${RESULTS_FILE:-} ]]; then echo "$line" >>"$RESULTS_FILE"; fi
done
if [[ -n ${RESULTS_FILE:-} ]]; then log "summary appended to $RESULTS_FILE"; fi
exit 0
