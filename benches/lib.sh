# shellcheck shell=bash
# Shared helpers for benches/dnsperf.sh and benches/zone-size.sh.
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

check_servers_var() {
    local s
    for s in $SERVERS; do
        case $s in pooldns|knot) ;; *) die "SERVERS may only contain 'pooldns' and 'knot' (got '$s')";; esac
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

# write_knot_config FILE PORT STATE_DIR ZONE_NAME ZONE_FILE
write_knot_config() {
    local conf=$1 port=$2 dir=$3 zone=$4 zfile=$5
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

template:
  - id: default
    storage: "$dir"
    # primary only, loaded from the zone file; nothing is ever written back,
    # no journal, no DNSSEC, no notifies/transfers (so no timers fire)
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off

zone:
  - domain: $zone
    file: "$zfile"
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
