#!/usr/bin/env bash
# DNSSEC query-throughput benchmark: pooldns vs Knot DNS vs PowerDNS on the
# same signed zone, same machine, measured with dnsperf with the DO bit set.
# See benches/README.md.
#
# Environment (all optional):
#   SERVERS       "pooldns knot pdns" (default), any subset, e.g. "knot pdns"
#   LOADS         "hot nxdomain" (default)
#   DENIAL        nsec (default) | nsec3: the denial of existence all servers
#                 use (NSEC3: SHA-1, 0 extra iterations, no salt, no opt-out)
#   DURATION      seconds per dnsperf run (-l), default 5
#   ROUNDS        rounds per load, default 3
#   CLIENTS       dnsperf -c, default 4
#   OUTSTANDING   dnsperf -q, default 200
#   WARMUP        seconds of unmeasured load per server and load before the
#                 rounds, default 1 (0 = none)
#   POOLDNS_BIN   use this binary instead of building with cargo
#   POOLDNS_PORT, POOLDNS_API_PORT, KNOT_PORT, PDNS_PORT
#                 default 15473, 15480, 15474, 15475
#   KNOT_UDP_WORKERS, KNOT_TCP_WORKERS, KNOT_BG_WORKERS   default 2, 1, 1
#   PDNS_RECEIVER_THREADS, PDNS_DISTRIBUTOR_THREADS   default 2, 3
#   PDNS_REUSEPORT    no (default) | yes: PowerDNS's reuseport setting
#   PDNS_CACHE_TTL    unset (default: PowerDNS's own default, 20 s) or a
#                     number of seconds for --cache-ttl (0 = no packet cache)
#   PDNS_NX_COOLDOWN  1 (default): before each nxdomain run against PowerDNS,
#                     wait until the packet-cache entries of its previous
#                     nxdomain run have expired (cache-ttl + 1 s), so that
#                     every run sends it names it has not cached; 0 = no wait
#   PDNS_SCHEMA   the gsqlite3 schema, default: found in the package's files
#   START_TIMEOUT seconds to wait for a server to answer, default 120
#   CHECK         1 (default): check the answers (and their DNSSEC records)
#                 before measuring; 0 = skip
#   VALIDATE      1 (default when delv is installed): also validate a few
#                 answers with delv against each server's own key; 0 = skip
#   NOTE          free text stored in the JSON summary (e.g. the commit id)
#   RESULTS_FILE  also append the JSON summary lines to this file
#   KEEP_TMP      1 = keep the work dir (configs, keys, logs, dnsperf outputs)
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SERVERS=(pooldns knot pdns)
SERVERS=${SERVERS:-"${ALL_SERVERS[*]}"}
LOADS=${LOADS:-"hot nxdomain"}
DENIAL=${DENIAL:-nsec}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-200}
WARMUP=${WARMUP:-1}
POOLDNS_PORT=${POOLDNS_PORT:-15473}
POOLDNS_API_PORT=${POOLDNS_API_PORT:-15480}
KNOT_PORT=${KNOT_PORT:-15474}
PDNS_PORT=${PDNS_PORT:-15475}
PDNS_RECEIVER_THREADS=${PDNS_RECEIVER_THREADS:-2}
PDNS_DISTRIBUTOR_THREADS=${PDNS_DISTRIBUTOR_THREADS:-3}
PDNS_REUSEPORT=${PDNS_REUSEPORT:-no}
PDNS_CACHE_TTL=${PDNS_CACHE_TTL:-}
PDNS_NX_COOLDOWN=${PDNS_NX_COOLDOWN:-1}
START_TIMEOUT=${START_TIMEOUT:-120}
CHECK=${CHECK:-1}
if [[ -z ${VALIDATE:-} ]]; then
    if command -v delv >/dev/null 2>&1; then VALIDATE=1; else VALIDATE=0; fi
fi
NX_COUNT=100000
ZONE=bench.test.
ZNAME=${ZONE%.}

check_servers_var "${ALL_SERVERS[@]}"
for l in $LOADS; do
    case $l in hot|nxdomain) ;; *) die "LOADS may only contain 'hot' and 'nxdomain'";; esac
done
case $DENIAL in nsec|nsec3) ;; *) die "DENIAL must be 'nsec' or 'nsec3'";; esac
DENIAL_TYPE=${DENIAL^^}
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "DURATION must be a positive integer"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be an integer >= 0"
[[ $PDNS_RECEIVER_THREADS =~ ^[1-9][0-9]*$ ]] || die "PDNS_RECEIVER_THREADS must be a positive integer"
[[ $PDNS_DISTRIBUTOR_THREADS =~ ^[1-9][0-9]*$ ]] || die "PDNS_DISTRIBUTOR_THREADS must be a positive integer"
case $PDNS_REUSEPORT in yes|no) ;; *) die "PDNS_REUSEPORT must be 'yes' or 'no'";; esac
[[ -z $PDNS_CACHE_TTL || $PDNS_CACHE_TTL =~ ^[0-9]+$ ]] || die "PDNS_CACHE_TTL must be empty or an integer >= 0"
case $PDNS_NX_COOLDOWN in 0|1) ;; *) die "PDNS_NX_COOLDOWN must be 0 or 1";; esac
require_tools dnsperf kdig awk ss getconf
have_server knot && require_tools knotd
have_server pooldns && require_tools curl
have_server pdns && require_tools pdns_server pdnsutil pdns_control sqlite3
if [[ $VALIDATE == 1 ]]; then require_tools delv; fi

ports=()
have_server pooldns && ports+=("$POOLDNS_PORT" "$POOLDNS_API_PORT")
have_server knot && ports+=("$KNOT_PORT")
have_server pdns && ports+=("$PDNS_PORT")
check_ports_free "${ports[@]}"

if have_server pdns; then
    if [[ -z ${PDNS_SCHEMA:-} ]]; then
        for f in /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql \
                 /usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql; do
            if [[ -r $f ]]; then PDNS_SCHEMA=$f; break; fi
        done
        if [[ -z ${PDNS_SCHEMA:-} ]]; then
            PDNS_SCHEMA=$(dpkg -L pdns-backend-sqlite3 2>/dev/null | grep -E '/schema\.sqlite3\.sql(\.gz)?$' | head -n1) || true
        fi
    fi
    [[ -n ${PDNS_SCHEMA:-} && -r $PDNS_SCHEMA ]] \
        || die "gsqlite3 schema not found (install pdns-backend-sqlite3, or set PDNS_SCHEMA)"
    [[ -e /usr/lib/x86_64-linux-gnu/pdns/libgsqlite3backend.so || -n $(find /usr/lib -name 'libgsqlite3backend.so' -print -quit 2>/dev/null) ]] \
        || die "PowerDNS gsqlite3 backend not installed (apt-get install pdns-backend-sqlite3)"
fi

if have_server pooldns; then
    ensure_pooldns_bin
    "$POOLDNS_BIN" zone --help 2>/dev/null | grep -qE '^[[:space:]]+secure([[:space:]]|$)' \
        || die "$POOLDNS_BIN has no 'zone secure' command yet (run with SERVERS=\"knot pdns\" for the other two)"
fi

# A build (or anything else heavy) running next to the benchmark skews it:
# warn now, and flag every round during which cargo or rustc ran.
build_running() { pgrep '^(cargo|rustc)$' >/dev/null 2>&1; }
if build_running; then
    log "WARNING: cargo/rustc is running on this machine; the figures will be skewed:"
    pgrep -a '^(cargo|rustc)$' 2>/dev/null | cut -c1-120 | head -n 5 >&2 || true
fi
BUSY_ROUNDS=0

make_tmp dnssec
T=$BENCH_TMP
mkdir -p "$T/zones" "$T/knot" "$T/pooldns/zones" "$T/pdns" "$T/out"

# --------------------------------------------------------------------------
# 1. zone + query files (the same as dnsperf.sh)
# --------------------------------------------------------------------------
ZFILE=$T/zones/bench.test.zone
write_bench_zone "$ZFILE"
write_hot_queries "$T/hot.txt"
write_nxdomain_queries "$T/nxdomain.txt" "$NX_COUNT"
log "zone: $(grep -cvE '^\s*(;|\$|$)' "$ZFILE") records (unsigned); hot: $(wc -l <"$T/hot.txt") queries; nxdomain: $NX_COUNT queries (sha1 $(sha1sum "$T/nxdomain.txt" | cut -c1-12)); denial: $DENIAL_TYPE"

# --------------------------------------------------------------------------
# 2. servers, each signing the zone with one ECDSA P-256 (algorithm 13) CSK
# --------------------------------------------------------------------------
declare -A PORT PID

# Knot: signs the whole zone when it loads it (pre-signed, in memory), with a
# CSK it generates in its KASP database under $T/knot/db/keys.
if have_server knot; then
    if [[ $DENIAL == nsec3 ]]; then knot_nsec3=on; else knot_nsec3=off; fi
    knot_policy="policy:
  - id: bench
    # one ECDSA P-256 key signing everything (a CSK), like the other servers
    algorithm: ecdsap256sha256
    single-type-signing: on
    # no CDS/CDNSKEY at the apex, like PowerDNS by default (pooldns publishes
    # them: two more types in its apex NSEC bitmap, 1 byte per NXDOMAIN)
    cds-cdnskey-publish: none
    nsec3: $knot_nsec3
    nsec3-iterations: 0
    nsec3-salt-length: 0
    nsec3-opt-out: off"
    knot_zone="    dnssec-signing: on
    dnssec-policy: bench"
    write_knot_config "$T/knot/knot.conf" "$KNOT_PORT" "$T/knot" "$ZONE" "$ZFILE" "$knot_policy" "$knot_zone"
    start_knot "$T/knot/knot.conf" "$T/knot/knot.log"
    PORT[knot]=$KNOT_PORT PID[knot]=$KNOT_PID
    wait_answer "$KNOT_PORT" "www.$ZONE" A "$START_TIMEOUT" "$KNOT_PID" knotd "$T/knot/knot.log"
    grep -q 'DNSSEC, successfully signed' "$T/knot/knot.log" \
        || { tail -n 30 "$T/knot/knot.log" >&2; die "knotd answers but its log does not say it signed the zone"; }
    log "knotd pid $KNOT_PID on 127.0.0.1:$KNOT_PORT (udp-workers $KNOT_UDP_WORKERS, tcp-workers $KNOT_TCP_WORKERS, background-workers $KNOT_BG_WORKERS), zone signed at load"
fi

# PowerDNS: gsqlite3 backend with DNSSEC on; the zone is loaded with
# pdnsutil, secured (one ECDSA P-256 CSK, PowerDNS's default) and rectified.
# PowerDNS signs online, caching the signatures it makes.
if have_server pdns; then
    PD=$T/pdns
    if [[ $PDNS_SCHEMA == *.gz ]]; then zcat "$PDNS_SCHEMA"; else cat "$PDNS_SCHEMA"; fi | sqlite3 "$PD/pdns.sqlite3" \
        || die "cannot create the gsqlite3 database from $PDNS_SCHEMA"
    # Read by pdnsutil, pdns_control and pdns_server (--config-dir). Nothing
    # from /etc/powerdns is read. security-poll-suffix= turns off the
    # security poll (a DNS query to the Internet at start).
    cat >"$PD/pdns.conf" <<EOF
# generated by pooldns benches/dnssec.sh — not a production config
launch=gsqlite3
gsqlite3-database=$PD/pdns.sqlite3
gsqlite3-dnssec=yes
security-poll-suffix=
EOF
    pdnsutil_() { pdnsutil --config-dir="$PD" "$@" >>"$PD/pdnsutil.log" 2>&1 || { tail -n 20 "$PD/pdnsutil.log" >&2; die "pdnsutil $* failed"; }; }
    pdnsutil_ load-zone "$ZNAME" "$ZFILE"
    pdnsutil_ secure-zone "$ZNAME"
    if [[ $DENIAL == nsec3 ]]; then pdnsutil_ set-nsec3 "$ZNAME" '1 0 0 -'; fi
    pdnsutil_ rectify-zone "$ZNAME"
    pdnsutil_ check-zone "$ZNAME"
    start_pdns "$PD" --reuseport="$PDNS_REUSEPORT"
    PORT[pdns]=$PDNS_PORT PID[pdns]=$PDNS_PID
    wait_answer "$PDNS_PORT" "www.$ZONE" A "$START_TIMEOUT" "$PDNS_PID" pdns_server "$PD/pdns.log"
    log "pdns_server pid $PDNS_PID on 127.0.0.1:$PDNS_PORT (receiver-threads $PDNS_RECEIVER_THREADS, distributor-threads $PDNS_DISTRIBUTOR_THREADS, reuseport $PDNS_REUSEPORT, cache-ttl ${PDNS_CACHE_TTL:-default})"
fi

# pooldns: import into a new store, secure, then serve from the store alone
# (its zone directory is empty).
if have_server pooldns; then
    CONF=$T/pooldns/pooldns.toml
    write_pooldns_config "$CONF" "$POOLDNS_PORT" "$POOLDNS_API_PORT" "$T/pooldns/pooldns.db" "$T/pooldns/zones"
    "$POOLDNS_BIN" zone import "$ZFILE" --config "$CONF" >"$T/pooldns/import.log" 2>&1 \
        || { tail -n 30 "$T/pooldns/import.log" >&2; die "pooldns zone import failed"; }
    secure_args=(zone secure "$ZNAME" --algorithm ecdsap256sha256 --config "$CONF")
    if [[ $DENIAL == nsec3 ]]; then secure_args+=(--nsec3); fi
    "$POOLDNS_BIN" "${secure_args[@]}" >"$T/pooldns/secure.log" 2>&1 \
        || { tail -n 30 "$T/pooldns/secure.log" >&2; die "pooldns ${secure_args[*]} failed"; }
    start_pooldns "$CONF" "$T/pooldns/pooldns.log"
    PORT[pooldns]=$POOLDNS_PORT PID[pooldns]=$POOLDNS_PID
    wait_readyz "$POOLDNS_API_PORT" "$START_TIMEOUT" "$POOLDNS_PID" "$T/pooldns/pooldns.log"
    wait_answer "$POOLDNS_PORT" "www.$ZONE" A "$START_TIMEOUT" "$POOLDNS_PID" pooldns "$T/pooldns/pooldns.log"
    log "pooldns pid $POOLDNS_PID on 127.0.0.1:$POOLDNS_PORT ($POOLDNS_BIN ${secure_args[*]})"
fi

# --------------------------------------------------------------------------
# 3. answer checks
# --------------------------------------------------------------------------
# dnssec_probe PORT NAME TYPE -> "RCODE DO ANSWERS ANS_RRSIG NSEC NSEC3 RRSIG_DENIAL SOA RRSIG_SOA BYTES"
# (one DO=1 query over UDP; counts the records of each kind in the answer and
# authority sections; DO is 1 when the reply's OPT record has the DO flag)
dnssec_probe() {
    kdig @127.0.0.1 -p "$1" +notcp +norecurse +dnssec +bufsize=1232 +time=1 +retry=1 "$2" "$3" 2>/dev/null | awk '
    /^;; Received [0-9]+ B/ { bytes = $3 }
    /status:/          { for (i = 1; i <= NF; i++) if ($i == "status:") { rc = $(i + 1); sub(/;$/, "", rc) } }
    /^;; Version: .*flags:[^;]*do/ { dob = 1 }
    /^;; ANSWER SECTION/    { sec = "an"; next }
    /^;; AUTHORITY SECTION/ { sec = "au"; next }
    /^;; ADDITIONAL SECTION/ || /^;; [A-Z]+ PSEUDOSECTION/ || /^;; QUESTION SECTION/ { sec = ""; next }
    /^;/ || NF < 5 { next }
    sec == "an" { an++; if ($4 == "RRSIG") ansig++ }
    sec == "au" {
        if ($4 == "NSEC") nsec++
        else if ($4 == "NSEC3") nsec3++
        else if ($4 == "SOA") soa++
        else if ($4 == "RRSIG" && ($5 == "NSEC" || $5 == "NSEC3")) dsig++
        else if ($4 == "RRSIG" && $5 == "SOA") ssig++
    }
    END { printf "%s %d %d %d %d %d %d %d %d %d\n", (rc == "" ? "NONE" : rc), dob, an, ansig, nsec, nsec3, dsig, soa, ssig, bytes }'
}

# The zone's keys as served: one DNSKEY, a CSK (flags 257) of algorithm 13.
# Prints its RDATA (flags protocol algorithm key) for the delv trust anchor.
check_dnskey() { # SERVER PORT
    local out keys
    out=$(kdig @127.0.0.1 -p "$2" +notcp +norecurse +dnssec +time=1 +retry=1 "$ZONE" DNSKEY 2>/dev/null) || true
    keys=$(awk '/^;/ { next } $4 == "DNSKEY" { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }' <<<"$out")
    if [[ $(grep -c . <<<"$keys") != 1 ]]; then
        log "CHECK $1: want exactly one DNSKEY, got: ${keys:-none}"; return 1
    fi
    if [[ $keys != "257 3 13 "* ]]; then
        log "CHECK $1: DNSKEY is not an algorithm-13 CSK: $keys"; return 1
    fi
    awk '$4 == "RRSIG" && $5 == "DNSKEY" { f = 1 } END { exit !f }' <<<"$out" \
        || { log "CHECK $1: DNSKEY has no RRSIG"; return 1; }
    printf '%s\n' "$keys" >"$T/$1.dnskey"
}

# With NSEC3: the apex NSEC3PARAM must be SHA-1, no flags, 0 iterations, no
# salt (RFC 9276), the same on every server.
check_nsec3param() { # SERVER PORT
    local p
    p=$(kdig @127.0.0.1 -p "$2" +notcp +norecurse +time=1 +retry=1 "$ZONE" NSEC3PARAM 2>/dev/null \
        | awk '/^;/ { next } $4 == "NSEC3PARAM" { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }') || true
    [[ $p == "1 0 0 -" ]] || { log "CHECK $1: NSEC3PARAM is '${p:-none}' (want '1 0 0 -')"; return 1; }
}

# delv validates from the server's own key (a trust anchor for bench.test.)
# down to the answer: the signatures and the denial proofs are correct.
delv_check() { # SERVER PORT NAME TYPE WANT(positive|negative)
    local out want
    [[ $5 == positive ]] && want='^; fully validated' || want='^; negative response, fully validated'
    out=$(delv -a "$T/$1.anchor" +root="$ZONE" -p "$2" @127.0.0.1 "$3" "$4" +nortrace 2>&1) || true
    grep -qE "$want" <<<"$out" || { log "VALIDATE $1: $3 $4 did not validate ($5):"; head -n 8 <<<"$out" >&2; return 1; }
}

declare -A SIZE   # "server|name type" -> reply size in bytes (answer check)
SIZE_MISMATCHES=null
if [[ $CHECK == 1 ]]; then
    bad=0
    for s in $SERVERS; do
        sbad=0
        check_dnskey "$s" "${PORT[$s]}" || sbad=1
        if [[ $DENIAL == nsec3 ]]; then check_nsec3param "$s" "${PORT[$s]}" || sbad=1; fi
        while read -r name type; do
            read -r rc dob an ansig _ _ _ _ _ bytes < <(dnssec_probe "${PORT[$s]}" "$name" "$type")
            SIZE["$s|$name $type"]=$bytes
            if [[ $rc != NOERROR || $dob != 1 || $an -lt 2 || $ansig -lt 1 ]]; then
                log "CHECK $s: $name $type -> rcode $rc, DO $dob, $an answer records of which $ansig RRSIG (want NOERROR, DO, an answer with its RRSIG)"
                sbad=1
            fi
        done <"$T/hot.txt"
        while read -r name type; do
            read -r rc dob an _ nsec nsec3 dsig soa ssig bytes < <(dnssec_probe "${PORT[$s]}" "$name" "$type")
            SIZE["$s|$name $type"]=$bytes
            if [[ $DENIAL == nsec3 ]]; then proof=$nsec3 other=$nsec; else proof=$nsec other=$nsec3; fi
            if [[ $rc != NXDOMAIN || $dob != 1 || $an != 0 || $proof -lt 1 || $other != 0 || $dsig -lt $proof || $soa != 1 || $ssig -lt 1 ]]; then
                log "CHECK $s: $name $type -> rcode $rc, DO $dob, $an answers, authority: $nsec NSEC, $nsec3 NSEC3, $dsig RRSIG over them, $soa SOA, $ssig RRSIG SOA (want NXDOMAIN with SOA, $DENIAL_TYPE and their RRSIGs)"
                sbad=1
            fi
        done < <(head -n 50 "$T/nxdomain.txt")
        if [[ $VALIDATE == 1 && $sbad == 0 ]]; then
            read -r kf kp ka kk <"$T/$s.dnskey"
            printf 'trust-anchors {\n    %s static-key %s %s %s "%s";\n};\n' "$ZONE" "$kf" "$kp" "$ka" "${kk// /}" >"$T/$s.anchor"
            while read -r name type; do
                delv_check "$s" "${PORT[$s]}" "$name" "$type" positive || sbad=1
            done <"$T/hot.txt"
            while read -r name type; do
                delv_check "$s" "${PORT[$s]}" "$name" "$type" negative || sbad=1
            done < <(head -n 5 "$T/nxdomain.txt")
        fi
        if [[ $sbad == 0 ]]; then
            log "answer check passed for $s (DNSKEY: one algorithm-13 CSK$([[ $DENIAL == nsec3 ]] && echo "; NSEC3PARAM 1 0 0 -"); hot: answers + RRSIG; 50 random names: NXDOMAIN + SOA + $DENIAL_TYPE + RRSIGs$([[ $VALIDATE == 1 ]] && echo "; delv validated the hot set and 5 random names"))"
        fi
        (( sbad == 0 )) || bad=1
    done
    [[ $bad == 0 ]] || die "answer check failed (CHECK=0 skips it)"

    # Comparable answers: the servers should send replies of about the same
    # size to each query (more than 5% apart: one of them adds or leaves out
    # records, e.g. the RRSIGs of the additional section). Not fatal.
    if [[ $SERVERS == *" "* ]]; then
        ndiff=0
        while read -r name type; do
            sizes="" min="" max=""
            for s in $SERVERS; do
                b=${SIZE["$s|$name $type"]:-0}
                sizes+=" $s $b B,"
                if [[ -z $min || $b -lt $min ]]; then min=$b; fi
                if [[ -z $max || $b -gt $max ]]; then max=$b; fi
            done
            if (( max * 100 > min * 105 )); then
                log "NOTE: reply sizes differ for $name $type:${sizes%,}"
                ndiff=$((ndiff + 1))
            fi
        done < <(cat "$T/hot.txt"; head -n 50 "$T/nxdomain.txt")
        SIZE_MISMATCHES=$ndiff
        if (( ndiff > 0 )); then
            log "WARNING: for $ndiff of the $(( $(wc -l <"$T/hot.txt") + 50 )) checked queries the servers' replies differ in size by more than 5%: they do not answer exactly the same (see the NOTE lines); compare resp B below"
        fi
    fi
fi

# --------------------------------------------------------------------------
# 4. load
# --------------------------------------------------------------------------
DNSPERF_FLAGS=(-D)   # DO bit (and EDNS0, dnsperf's default 4,096-byte buffer)
expected_rcode() { [[ $1 == hot ]] && echo NOERROR || echo NXDOMAIN; }

ROUNDS_TSV=$T/rounds.tsv
: >"$ROUNDS_TSV"
VERSIONS=$(tool_versions)
PDNS_VERSION=$(pdns_server --version 2>&1 | sed -n 's/.*PowerDNS Authoritative Server \([^ ]*\).*/\1/p' | head -n1) || true
POOLDNS_VERSION=-
if have_server pooldns; then POOLDNS_VERSION=$("$POOLDNS_BIN" --version 2>/dev/null | awk '{print $NF}') || true; fi

# PowerDNS keeps NXDOMAIN answers in its packet cache for cache-ttl seconds
# (default 20). dnsperf starts every run at the top of the query file, so
# without a pause each nxdomain run would resend names PowerDNS has just
# cached, which a flood of random names never does. pdns_cooldown waits
# until the previous nxdomain run against PowerDNS is cache-ttl + 1 s old.
PDNS_TTL_EFFECTIVE=${PDNS_CACHE_TTL:-20}
PDNS_NX_LAST_END=""
pdns_cooldown() {
    local wait
    [[ $PDNS_NX_COOLDOWN == 1 && $PDNS_TTL_EFFECTIVE -gt 0 && -n $PDNS_NX_LAST_END ]] || return 0
    wait=$(awk -v a="$PDNS_NX_LAST_END" -v b="$EPOCHREALTIME" -v t="$PDNS_TTL_EFFECTIVE" 'BEGIN{ w = a + t + 1 - b; printf "%.1f", (w > 0 ? w : 0) }')
    if [[ $wait != 0.0 ]]; then
        log "pdns: waiting ${wait}s for its packet cache (cache-ttl ${PDNS_TTL_EFFECTIVE}s) to expire the names of its previous nxdomain run"
        sleep "$wait"
    fi
}
# run_load SERVER LOAD SECONDS OUTFILE: run_dnsperf, with the PowerDNS pause
run_load() {
    if [[ $1 == pdns && $2 == nxdomain ]]; then pdns_cooldown; fi
    run_dnsperf "$@"
    if [[ $1 == pdns && $2 == nxdomain ]]; then PDNS_NX_LAST_END=$EPOCHREALTIME; fi
}

read -ra servers <<<"$SERVERS"
for load in $LOADS; do
    if (( WARMUP > 0 )); then
        for s in "${servers[@]}"; do
            log "warm-up: $load -> $s (${WARMUP}s)"
            run_load "$s" "$load" "$WARMUP" "$T/out/warmup-$load-$s.txt"
        done
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        # rotate the order each round (A B C, B C A, C A B, ...)
        order=()
        for ((i = 0; i < ${#servers[@]}; i++)); do
            order+=("${servers[(i + r - 1) % ${#servers[@]}]}")
        done
        for s in "${order[@]}"; do
            out=$T/out/$load-$s-$r.txt
            if [[ $s == pdns && $load == nxdomain ]]; then pdns_cooldown; fi
            h0=0 m0=0 h1=0 m1=0
            if [[ $s == pdns ]]; then h0=$(pdns_stat "$T/pdns" packetcache-hit) m0=$(pdns_stat "$T/pdns" packetcache-miss); fi
            busy=0
            build_running && busy=1
            c0=$(cpu_ticks "${PID[$s]}")
            times >"$T/times0.txt"
            run_load "$s" "$load" "$DURATION" "$out"
            times >"$T/times1.txt"
            c1=$(cpu_ticks "${PID[$s]}")
            build_running && busy=1
            BUSY_ROUNDS=$((BUSY_ROUNDS + busy))
            if [[ $s == pdns ]]; then h1=$(pdns_stat "$T/pdns" packetcache-hit) m1=$(pdns_stat "$T/pdns" packetcache-miss); fi
            g0=$(children_ms "$T/times0.txt") g1=$(children_ms "$T/times1.txt")
            read -r sent ndone lost qps lat rc < <(parse_dnsperf "$out") || die "cannot parse $out"
            rbytes=$(dnsperf_resp_bytes "$out")
            want=$(expected_rcode "$load")
            ok=$(tr ',' '\n' <<<"$rc" | awk -F: -v w="$want" '$1 == w {print $2}')
            unexpected=$(( ndone - ${ok:-0} ))
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                "$load" "$s" "$r" "$sent" "$ndone" "$lost" "$qps" "$lat" "$((c1 - c0))" "$unexpected" "$((g1 - g0))" \
                "$rbytes" "$((h1 - h0))" "$((m1 - m0))" >>"$ROUNDS_TSV"
            cpu_ms=$(( (c1 - c0) * 1000 / CLK_TCK ))
            extra=""
            if [[ $busy == 1 ]]; then extra+=", CARGO/RUSTC RUNNING"; fi
            if [[ $s == pdns ]]; then extra+=", packet cache $((h1 - h0)) hits / $((m1 - m0)) misses"; fi
            log "$load round $r $s: $(printf '%.0f' "$qps") qps, $ndone answers, $lost lost, cpu ${cpu_ms} ms, response $rbytes B, rcodes $rc$extra"
            echo "ROUND {\"bench\":\"dnssec\",\"denial\":\"$DENIAL\",\"load\":\"$load\",\"server\":\"$s\",\"round\":$r,\"sent\":$sent,\"completed\":$ndone,\"lost\":$lost,\"qps\":$qps,\"avg_latency_s\":$lat,\"cpu_ms\":$cpu_ms,\"dnsperf_cpu_ms\":$((g1 - g0)),\"unexpected_rcode\":$unexpected,\"rcodes\":\"$rc\",\"build_running\":$busy,\"response_bytes\":$( [[ $rbytes == - ]] && echo null || echo "$rbytes")$( [[ $s == pdns ]] && echo ",\"packetcache_hit\":$((h1 - h0)),\"packetcache_miss\":$((m1 - m0))")}"
        done
    done
done

# --------------------------------------------------------------------------
# 5. report
# --------------------------------------------------------------------------
# extra figures per load+server: median response size; packet cache hit % (pdns)
extras() { # LOAD SERVER -> "resp_bytes cache_hit_pct"
    awk -F'\t' -v l="$1" -v s="$2" '
    $1 == l && $2 == s { n++; b[n] = $12; h += $13; m += $14 }
    END {
        if (n == 0) { print "- -"; exit }
        for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j+1] = b[j]; b[j+1] = t }
        printf "%s %s\n", (b[int((n+1)/2)] == "-" ? "-" : b[int((n+1)/2)]), (h + m > 0 ? sprintf("%.1f", 100 * h / (h + m)) : "-")
    }' "$ROUNDS_TSV"
}
ratio() { if [[ $1 == - || $2 == - ]]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "-"; else printf "%.3f", a/b}'; fi; }
fmt_ms() { if [[ $1 == - ]]; then echo -; else echo "$1 ms"; fi; }
j() { if [[ $1 == - ]]; then echo null; else echo "$1"; fi; }
ja() { if [[ $1 == - ]]; then echo null; else echo "[$1]"; fi; }
SUMMARY_LINES=()
NOTES=()

echo
echo "DNSSEC ($DENIAL_TYPE, ECDSA P-256 CSK), dnsperf -D -c $CLIENTS -q $OUTSTANDING -l $DURATION, $ROUNDS round(s), UDP over loopback, $(nproc) CPUs shared by dnsperf and the servers"
printf '%-9s %-13s %10s %12s %8s %10s %12s\n' load server qps "cpu/1k" lost "resp B" "bad rcode"
declare -A Q C L B LAT G ALL RB HIT
for load in $LOADS; do
    for s in "${ALL_SERVERS[@]}"; do
        read -r "Q[$s]" "C[$s]" "L[$s]" "B[$s]" "LAT[$s]" "G[$s]" "ALL[$s]" < <(summarise_rounds "$ROUNDS_TSV" "$load" "$s")
        read -r "RB[$s]" "HIT[$s]" < <(extras "$load" "$s")
        if have_server "$s"; then
            printf '%-9s %-13s %10s %12s %8s %10s %12s\n' "$load" "$s" "${Q[$s]}" "$(fmt_ms "${C[$s]}")" "${L[$s]}" "${RB[$s]}" "${B[$s]}"
            if [[ ${B[$s]} != - && ${B[$s]} != 0 ]]; then log "WARNING: $s gave ${B[$s]} answers with an rcode other than $(expected_rcode "$load") under load $load"; fi
        fi
    done
    rk=$(ratio "${Q[pooldns]}" "${Q[knot]}") rp=$(ratio "${Q[pooldns]}" "${Q[pdns]}")
    ck=$(ratio "${C[pooldns]}" "${C[knot]}") cp=$(ratio "${C[pooldns]}" "${C[pdns]}")
    if have_server pooldns && have_server knot; then
        printf '%-9s %-13s %10s %12s\n' "$load" "pooldns/knot" "$rk" "$ck"
    fi
    if have_server pooldns && have_server pdns; then
        printf '%-9s %-13s %10s %12s\n' "$load" "pooldns/pdns" "$rp" "$cp"
    fi
    line="{\"bench\":\"dnssec\",\"load\":\"$load\",\"denial\":\"$DENIAL\",\"algorithm\":\"ECDSAP256SHA256\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"duration_s\":$DURATION,\"rounds\":$ROUNDS,\"clients\":$CLIENTS,\"outstanding\":$OUTSTANDING"
    for s in "${ALL_SERVERS[@]}"; do
        line+=",\"${s}_qps\":$(j "${Q[$s]}"),\"${s}_qps_rounds\":$(ja "${ALL[$s]}"),\"${s}_cpu_ms_per_1k\":$(j "${C[$s]}"),\"${s}_lost\":$(j "${L[$s]}"),\"${s}_unexpected_rcode\":$(j "${B[$s]}"),\"${s}_latency_ms\":$(j "${LAT[$s]}"),\"${s}_response_bytes\":$(j "${RB[$s]}"),\"dnsperf_cpu_ms_per_1k_vs_${s}\":$(j "${G[$s]}")"
    done
    line+=",\"ratio_pooldns_knot\":$(j "$rk"),\"ratio_pooldns_pdns\":$(j "$rp"),\"cpu_ratio_pooldns_knot\":$(j "$ck"),\"cpu_ratio_pooldns_pdns\":$(j "$cp"),\"pdns_packetcache_hit_pct\":$(j "${HIT[pdns]}")"
    line+=",\"knot_udp_workers\":$KNOT_UDP_WORKERS,\"pdns_receiver_threads\":$PDNS_RECEIVER_THREADS,\"pdns_distributor_threads\":$PDNS_DISTRIBUTOR_THREADS,\"pdns_reuseport\":\"$PDNS_REUSEPORT\",\"pdns_cache_ttl\":$([[ -n $PDNS_CACHE_TTL ]] && echo "$PDNS_CACHE_TTL" || echo '"default"'),\"pdns_nx_cooldown\":$PDNS_NX_COOLDOWN"
    line+=",\"checked_reply_size_mismatches\":$SIZE_MISMATCHES,\"rounds_with_build_running\":$BUSY_ROUNDS,\"pdns_version\":\"${PDNS_VERSION:-?}\",\"pooldns_version\":\"${POOLDNS_VERSION:-?}\",$VERSIONS}"
    SUMMARY_LINES+=("$line")
    note="$load: median avg latency"
    for s in $SERVERS; do note+=" $s $(fmt_ms "${LAT[$s]}")"; done
    note+="; dnsperf's own CPU per 1,000 answers"
    for s in $SERVERS; do note+=" vs $s $(fmt_ms "${G[$s]}")"; done
    if have_server pdns; then note+="; PowerDNS packet cache hits ${HIT[pdns]}%"; fi
    NOTES+=("$note")
done
echo "(cpu/1k: server CPU ms per 1,000 answers; ratios: pooldns qps / other qps, and pooldns cpu/1k / other cpu/1k)"
printf '%s\n' "${NOTES[@]}"
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
