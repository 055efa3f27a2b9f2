# shellcheck shell=bash
# Shared helpers of the benchmark scripts in benches/.
# Sourced, not executed. Expects the caller to have `set -euo pipefail`.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)

# PIDs of the servers this script started; only these are ever stopped.
declare -a BENCH_PIDS=()
BENCH_TMP=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

have_server() { [[ " $SERVERS " == *" $1 "* ]]; }

# check_servers_var [ALLOWED...]: every word of $SERVERS must be one of
# ALLOWED (default: pooldns knot), each at most once.
# shellcheck disable=SC2120 # ALLOWED is optional
check_servers_var() {
    local s allowed=("$@") seen=" "
    (( ${#allowed[@]} )) || allowed=(pooldns knot)
    for s in $SERVERS; do
        [[ " ${allowed[*]} " == *" $s "* ]] || die "SERVERS may only contain: ${allowed[*]} (got '$s')"
        [[ $seen != *" $s "* ]] || die "SERVERS names '$s' twice"
        seen+="$s "
    done
    [[ -n ${SERVERS// /} ]] || die "SERVERS is empty"
}

require_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "required tool '$t' not found in PATH"
    done
}

# Make a temp dir under /var/tmp (or $BENCH_TMPDIR) and register the cleanup trap.
make_tmp() {
    BENCH_TMP=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/pooldns-$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    log "work dir: $BENCH_TMP"
}

bench_cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${BENCH_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${BENCH_PIDS[@]}"; do
        # give each server up to ~5 s to exit, then SIGKILL that pid only
        local i
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
        if [[ ${KEEP_TMP:-0} == 1 ]]; then
            log "KEEP_TMP=1: leaving $BENCH_TMP"
        else
            rm -rf -- "$BENCH_TMP"
        fi
    fi
    exit "$rc"
}

port_in_use() {
    # $1 = port; true if anything listens on it (UDP or TCP) on this host
    [[ -n $(ss -Hlnut "( sport = :$1 )" 2>/dev/null) ]]
}

check_ports_free() {
    local p
    for p in "$@"; do
        port_in_use "$p" && die "port $p is already in use (override with the *_PORT env vars)"
    done
    return 0
}

# Build the release binary unless POOLDNS_BIN is set. Sets POOLDNS_BIN.
ensure_pooldns_bin() {
    if [[ -n ${POOLDNS_BIN:-} ]]; then
        [[ -x $POOLDNS_BIN ]] || die "POOLDNS_BIN=$POOLDNS_BIN is not executable"
        log "using POOLDNS_BIN=$POOLDNS_BIN"
        return
    fi
    local target=${CARGO_TARGET_DIR:-/var/tmp/pooldns-target}
    log "building pooldns (cargo build --release, CARGO_TARGET_DIR=$target)"
    (cd "$REPO_DIR" && CARGO_TARGET_DIR=$target cargo build --release --bin pooldns) >&2 \
        || die "cargo build --release failed"
    POOLDNS_BIN=$target/release/pooldns
    [[ -x $POOLDNS_BIN ]] || die "build finished but $POOLDNS_BIN is missing"
}

# utime+stime of a whole process (all threads), in clock ticks.
cpu_ticks() {
    local s
    s=$(<"/proc/$1/stat") || die "process $1 is gone"
    s=${s##*) }          # drop "pid (comm) "; fields now start at #3 (state)
    # shellcheck disable=SC2086
    set -- $s
    echo $(( ${12} + ${13} ))   # field 14 utime, field 15 stime
}

# "VmRSS VmHWM" in kB
mem_kb() {
    awk '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} END{print r+0, h+0}' "/proc/$1/status"
}

# Query once; prints "RCODE ANSWERCOUNT" (or "NONE 0" when no reply).
dns_probe() {
    local port=$1 name=$2 type=${3:-A} out rcode ans
    out=$(kdig @127.0.0.1 -p "$port" +notcp +norecurse +time=1 +retry=0 "$name" "$type" 2>/dev/null) || true
    rcode=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out" | head -n1)
    ans=$(sed -n 's/.*ANSWER: \([0-9]*\).*/\1/p' <<<"$out" | head -n1)
    echo "${rcode:-NONE} ${ans:-0}"
}

# Poll until NAME/TYPE gets an answer (NOERROR with >=1 answer record). Fails
# if PID dies or after $4 seconds. Sets ANSWER_AT ($EPOCHREALTIME of the first
# answer seen). A probe is started every 50 ms without waiting for the
# previous one: a query sent before the server has bound its socket is lost
# and kdig's smallest timeout is 1 s, so sequential probes would add up to a
# second to the measured time.
wait_answer() {
    local port=$1 name=$2 type=$3 timeout=$4 pid=$5 what=$6 logf=$7
    local deadline pdir n=0 r p
    local -a probes=()
    deadline=$(( ${EPOCHREALTIME%.*} + timeout ))
    pdir=$(mktemp -d "$BENCH_TMP/probe.XXXXXX")
    ANSWER_AT=""
    while :; do
        n=$((n + 1))
        (
            out=$(kdig @127.0.0.1 -p "$port" +notcp +norecurse +time=1 +retry=0 +short "$name" "$type" 2>/dev/null) || true
            if [[ -n $out ]]; then : >"$pdir/ok"; fi
        ) &
        probes+=("$!")
        sleep 0.05
        if [[ -e $pdir/ok ]]; then ANSWER_AT=$EPOCHREALTIME; break; fi
        # reap finished probes so the list stays short
        if (( ${#probes[@]} > 40 )); then
            for p in "${probes[@]}"; do wait "$p" 2>/dev/null || true; done
            probes=()
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$logf" >&2 || true
            die "$what exited before answering $name $type"
        fi
        if (( ${EPOCHREALTIME%.*} >= deadline )); then
            r=$(dns_probe "$port" "$name" "$type")
            tail -n 30 "$logf" >&2 || true
            die "$what did not answer $name $type within ${timeout}s (last: $r)"
        fi
    done
    for p in "${probes[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf -- "$pdir"
    # confirm with a normal probe (the +short check cannot see the rcode)
    r=$(dns_probe "$port" "$name" "$type")
    [[ $r == NOERROR\ [1-9]* ]] || die "$what: $name $type answered $r (want NOERROR with an answer)"
}

# Poll GET /readyz until 200.
wait_readyz() {
    local api_port=$1 timeout=$2 pid=$3 logf=$4 deadline code
    deadline=$(( ${EPOCHREALTIME%.*} + timeout ))
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$api_port/readyz" 2>/dev/null) || true
        [[ $code == 200 ]] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$logf" >&2 || true
            die "pooldns exited before /readyz returned 200"
        fi
        if (( ${EPOCHREALTIME%.*} >= deadline )); then
            tail -n 30 "$logf" >&2 || true
            die "pooldns /readyz not 200 within ${timeout}s (last: ${code:-none})"
        fi
        sleep 0.05
    done
}

# write_pooldns_config FILE DNS_PORT API_PORT DB_PATH ZONES_DIR
write_pooldns_config() {
    cat >"$1" <<EOF
[dns]
listen = ["127.0.0.1:$2"]

[api]
listen = "127.0.0.1:$3"

[store]
url = "sqlite://$4"

[zones]
directory = "$5"
EOF
}

# Knot threads: 2 cores shared with dnsperf. udp-workers = number of cores
# (Knot's own default, and what a 2-core deployment would run); TCP is not
# measured so 1 TCP worker; 1 background worker (zone loading only: there are
# no transfers, no DNSSEC, no dynamic updates).
KNOT_UDP_WORKERS=${KNOT_UDP_WORKERS:-2}
KNOT_TCP_WORKERS=${KNOT_TCP_WORKERS:-1}
KNOT_BG_WORKERS=${KNOT_BG_WORKERS:-1}

# write_knot_config FILE PORT STATE_DIR ZONE_NAME ZONE_FILE [SECTIONS [ZONE_OPTS]]
# SECTIONS: extra top-level YAML (e.g. a policy:) placed before template:;
# ZONE_OPTS: extra lines for the zone item, each indented by 4 spaces.
write_knot_config() {
    local conf=$1 port=$2 dir=$3 zone=$4 zfile=$5 sections=${6:-} zone_opts=${7:-}
    mkdir -p "$dir/rundir" "$dir/db"
    cat >"$conf" <<EOF
# generated by pooldns benches/ — not a production config
server:
    listen: 127.0.0.1@$port
    rundir: "$dir/rundir"
    pidfile: "$dir/rundir/knot.pid"
    udp-workers: $KNOT_UDP_WORKERS
    tcp-workers: $KNOT_TCP_WORKERS
    background-workers: $KNOT_BG_WORKERS

log:
  - target: stderr
    any: info

database:
    storage: "$dir/db"
${sections:+
$sections
}
template:
  - id: default
    storage: "$dir"
    # primary only, loaded from the zone file; nothing is ever written back,
    # no journal, no notifies/transfers (so no timers fire); no DNSSEC unless
    # the zone item below turns it on
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off

zone:
  - domain: $zone
    file: "$zfile"
${zone_opts}
EOF
}

# start_knot CONF LOGFILE -> sets KNOT_PID
start_knot() {
    knotd -c "$1" >"$2" 2>&1 &
    KNOT_PID=$!
    BENCH_PIDS+=("$KNOT_PID")
}

# start_pooldns CONF LOGFILE -> sets POOLDNS_PID
start_pooldns() {
    "$POOLDNS_BIN" serve --config "$1" >"$2" 2>&1 &
    POOLDNS_PID=$!
    BENCH_PIDS+=("$POOLDNS_PID")
}

# start_pdns DIR [EXTRA_ARG...] -> sets PDNS_PID
# Runs pdns_server in the foreground on 127.0.0.1:$PDNS_PORT with DIR as
# its configuration and socket directory (pdns.conf there), the thread
# counts of $PDNS_RECEIVER_THREADS / $PDNS_DISTRIBUTOR_THREADS and, when
# set, $PDNS_CACHE_TTL; logs to DIR/pdns.log, command line in DIR/command-line.
start_pdns() {
    local dir=$1
    shift
    local args=(--daemon=no --guardian=no --local-address=127.0.0.1 --local-port="$PDNS_PORT"
        --config-dir="$dir" --socket-dir="$dir" --disable-syslog --loglevel=3
        --receiver-threads="$PDNS_RECEIVER_THREADS" --distributor-threads="$PDNS_DISTRIBUTOR_THREADS" "$@")
    if [[ -n ${PDNS_CACHE_TTL:-} ]]; then args+=(--cache-ttl="$PDNS_CACHE_TTL"); fi
    printf '%s\n' "pdns_server ${args[*]}" >"$dir/command-line"
    pdns_server "${args[@]}" >"$dir/pdns.log" 2>&1 &
    PDNS_PID=$!
    BENCH_PIDS+=("$PDNS_PID")
}

# pdns_stat DIR NAME -> value of a statistic of the pdns_server of DIR
pdns_stat() {
    pdns_control --config-dir="$1" --socket-dir="$1" show "$2" 2>/dev/null || echo 0
}

# Stop one server we started (by PID) and wait for it.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# seconds elapsed since $1 (an $EPOCHREALTIME value), 3 decimals
elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b-a}'; }

tool_versions() {
    local k d
    k=$(knotd --version 2>/dev/null | head -n1 | sed 's/.*version //') || true
    d=$(dnsperf -h 2>&1 | sed -n 's/^Version //p' | head -n1) || true
    printf '"knot_version":"%s","dnsperf_version":"%s","nproc":%s,"note":"%s"' \
        "${k:-?}" "${d:-?}" "$(nproc)" "$(printf '%s' "${NOTE:-}" | tr -d '"\\' | tr '\n\t' '  ')"
}

# --------------------------------------------------------------------------
# The zone and query files of dnsperf.sh and dnssec.sh
# --------------------------------------------------------------------------
# write_bench_zone FILE: the zone bench.test. (41 records; see README.md)
write_bench_zone() {
    cat >"$1" <<'EOF'
; Benchmark zone bench.test. Generated by benches/lib.sh (write_bench_zone).
$ORIGIN bench.test.
$TTL 3600
@               SOA     ns1 hostmaster 2024010101 7200 3600 1209600 300
@               NS      ns1
@               NS      ns2
@               A       192.0.2.1
@               AAAA    2001:db8::1
@               MX      10 mail
@               MX      20 mail2
@               TXT     "v=spf1 mx ip4:192.0.2.0/24 -all"
@               TXT     "site-verification=3f1c9a7e5b2d4c6a8e0f1b3d5c7a9e1f"
@               CAA     0 issue "letsencrypt.org"
@               CAA     0 iodef "mailto:security@bench.test"
ns1             A       192.0.2.53
ns1             AAAA    2001:db8::53
ns2             A       198.51.100.53
ns2             AAAA    2001:db8:1::53
www             A       192.0.2.10
www             A       192.0.2.11
www             AAAA    2001:db8::10
www             AAAA    2001:db8::11
mail            A       192.0.2.25
mail            AAAA    2001:db8::25
mail2           A       198.51.100.25
; CNAME chain: alias -> cdn -> edge -> www
alias           CNAME   cdn
cdn             CNAME   edge
edge            CNAME   www
ftp             CNAME   www
_dmarc          TXT     "v=DMARC1; p=reject; rua=mailto:dmarc@bench.test"
_sip._tcp       SRV     10 60 5060 sip
_sip._udp       SRV     10 60 5060 sip
_xmpp-server._tcp SRV   5 0 5269 www
sip             A       192.0.2.60
; wildcard (below "wild" so that random names under the apex stay NXDOMAIN)
*.wild          A       192.0.2.80
*.wild          AAAA    2001:db8::80
*.wild          TXT     "wildcard"
; "deep" and "ent.deep" are empty non-terminals
host.ent.deep   A       192.0.2.90
host.ent.deep   AAAA    2001:db8::90
; delegation with glue
sub             NS      ns1.sub
sub             NS      ns2.sub
ns1.sub         A       192.0.2.200
ns1.sub         AAAA    2001:db8:2::200
ns2.sub         A       198.51.100.200
EOF
}

# Hot set: 8 existing names, A/AAAA/MX/TXT mix. dnsperf cycles the file.
# write_hot_queries FILE
write_hot_queries() {
    cat >"$1" <<'EOF'
www.bench.test. A
www.bench.test. AAAA
bench.test. MX
bench.test. TXT
mail.bench.test. A
mail.bench.test. AAAA
ns1.bench.test. A
ns2.bench.test. AAAA
alias.bench.test. A
_dmarc.bench.test. TXT
host.ent.deep.bench.test. A
bench.test. A
EOF
}

# 100,000 random non-existent names under the apex. Park-Miller LCG done in
# awk so the file is identical with any awk (no srand()/rand() differences).
# Labels are 10-12 characters from [a-z0-9], none of which exist in the zone;
# one in four names is two labels deep; 3/4 A, 1/4 AAAA.
# write_nxdomain_queries FILE COUNT
write_nxdomain_queries() {
    awk -v n="$2" -v seed=20240101 '
    function rnd() { x = (x * 16807) % 2147483647; return x }
    function label(   len, s, i) {
        len = 10 + rnd() % 3; s = ""
        for (i = 0; i < len; i++) s = s substr(cs, 1 + rnd() % 36, 1)
        return s
    }
    BEGIN {
        cs = "abcdefghijklmnopqrstuvwxyz0123456789"; x = seed
        for (k = 0; k < n; k++) {
            name = label()
            if (rnd() % 4 == 0) name = label() "." name
            print name ".bench.test.", (rnd() % 4 == 0 ? "AAAA" : "A")
        }
    }' >"$1"
    [[ $(wc -l <"$1") -eq $2 ]] || die "nxdomain query file is short"
}

# --------------------------------------------------------------------------
# dnsperf runs
# --------------------------------------------------------------------------
DNSPERF_FLAGS=()

# dnsperf's own CPU time: bash's `times` prints the user+sys time of all
# children this shell has reaped. It is written to a file right before and
# right after the dnsperf run (in this shell, not a subshell: a subshell
# starts from zero); only dnsperf is reaped in between.
children_ms() { # FILE -> ms
    awk 'NR == 2 {
        t = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
        printf "%d\n", t * 1000 + 0.5 }' "$1"
}

# run_dnsperf SERVER LOAD SECONDS OUTFILE: dnsperf against 127.0.0.1:${PORT[SERVER]}
# with the query file $T/LOAD.txt; extra dnsperf options in DNSPERF_FLAGS.
run_dnsperf() {
    dnsperf -s 127.0.0.1 -p "${PORT[$1]}" -d "$T/$2.txt" -l "$3" -c "$CLIENTS" -q "$OUTSTANDING" \
        ${DNSPERF_FLAGS[@]+"${DNSPERF_FLAGS[@]}"} >"$4" 2>&1 \
        || { cat "$4" >&2; die "dnsperf failed against $1"; }
}

# parse_dnsperf FILE -> "sent completed lost qps avg_latency_s rcodes"
parse_dnsperf() {
    awk '
    /Queries sent:/       { sent = $3 }
    /Queries completed:/  { done = $3 }
    /Queries lost:/       { lost = $3 }
    /Queries per second:/ { qps = $4 }
    /Average Latency/     { lat = $4 }
    /Response codes:/     { sub(/.*Response codes: */, ""); gsub(/ \([0-9.]+%\)/, ""); gsub(/, /, ","); gsub(/ /, ":"); rc = $0 }
    END { if (sent == "") exit 1; printf "%s %s %s %s %s %s\n", sent, done, lost, qps, lat, (rc == "" ? "-" : rc) }' "$1"
}

# dnsperf_resp_bytes FILE -> average response size in bytes ("-" if absent)
dnsperf_resp_bytes() {
    awk '/Average packet size:/ { v = $NF } END { print (v == "" ? "-" : v) }' "$1"
}

# Rounds file (TSV, one line per dnsperf run): load server round sent
# completed lost qps avg_latency_s cpu_ticks unexpected_rcodes dnsperf_cpu_ms
# [more columns, ignored here].
# per load+server: median qps, CPU ms per 1000 answers (sum CPU / sum answers
# over all rounds), lost queries (sum), unexpected rcodes (sum),
# median of the per-round average latency.
summarise_rounds() { # TSV LOAD SERVER -> "qps cpu_per_1k lost unexpected latency_ms dnsperf_cpu_per_1k qps,of,each,round" or "- - - - - - -"
    awk -F'\t' -v l="$2" -v s="$3" -v tck="$CLK_TCK" '
    function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
        return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }
    $1 == l && $2 == s { n++; q[n] = $7; la[n] = $8; done += $5; lost += $6; cpu += $9; bad += $10; gen += $11
                         all = all (n > 1 ? "," : "") sprintf("%.0f", $7) }
    END {
        if (n == 0) { print "- - - - - - -"; exit }
        printf "%.0f %.3f %d %d %.3f %.3f %s\n", median(q, n), (done ? cpu * 1000 / tck / done * 1000 : 0), lost, bad, median(la, n) * 1000, (done ? gen / done * 1000 : 0), all
    }' "$1"
}

# bystander PORT NAME FILE: asks NAME A from 127.0.1.2 (another /24 than
# the load's 127.0.0.1) every 100 ms until killed, keeping "answered sent"
# in FILE.
bystander() {
    local answered=0 sent=0
    while :; do
        sent=$((sent + 1))
        if kdig -b 127.0.1.2 @127.0.0.1 -p "$1" +notcp +norecurse +time=1 +retry=0 "$2" A 2>/dev/null |
            grep -q 'status: NOERROR'; then
            answered=$((answered + 1))
        fi
        echo "$answered $sent" >"$3"
        sleep 0.1
    done
}

# rrl_counts API_PORT: pooldns's limited responses so far, "dropped slipped".
rrl_counts() {
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" |
        awk '/^pooldns_rate_limited_total\{action="dropped"\}/ {d = $2} /^pooldns_rate_limited_total\{action="slipped"\}/ {s = $2}
             END {printf "%d %d\n", d, s}'
}
