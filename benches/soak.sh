#!/usr/bin/env bash
# Soak: DURATION seconds of mixed load on one pooldns — UDP plain and with
# DO on a signed zone, LUA records, TCP, API PATCHes and signed UPDATEs —
# at RATE queries a second in all (by default half the maximum dnsperf.sh
# measures here), sampling resident memory, answers a second and a
# client's latency. Draws memory, q/s and p99 over time into a PNG and
# checks: no error, memory within 10 % of its level at five minutes, p99
# steady. See benches/README.md.
#
# Environment (all optional):
#   DURATION      seconds, default 3600
#   RATE          queries a second in all, default 72000
#   SAMPLE        seconds between samples, default 10
#   OUT           directory for soak.csv, soak.png, soak.json and the dnsperf reports,
#                 default benches/results
#   POOLDNS_BIN   use this binary instead of building with cargo
#   PORT_BASE     first of the 2 ports used, default 15460
#   NOTE          free text stored in the JSON summary
#   RESULTS_FILE  also append the JSON summary line to this file
#   KEEP_TMP      1 = keep the work dir
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-3600}
RATE=${RATE:-72000}
SAMPLE=${SAMPLE:-10}
OUT=${OUT:-$BENCH_DIR/results}
PORT_BASE=${PORT_BASE:-15460}
DNS_PORT=$PORT_BASE API_PORT=$((PORT_BASE + 1))
KEY=soak-key-$$
TSIG_SECRET=c29hay1zb2FrLXNvYWstc29hay1zb2FrLXNvYWstc28=
VENV=${VENV:-/var/tmp/pooldns-venv}

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 60 ]] || die "DURATION must be at least 60 seconds"
[[ $RATE =~ ^[0-9]+$ && $RATE -ge 100 ]] || die "RATE must be at least 100"
require_tools dnsperf nsupdate python3 curl ss
check_ports_free "$DNS_PORT" "$API_PORT"
if ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
    log "installing matplotlib into $VENV"
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet matplotlib
fi
ensure_pooldns_bin
make_tmp soak
T=$BENCH_TMP
mkdir -p "$T/zones" "$OUT"

write_bench_zone "$T/zones/bench.test.zone"
# LUA records as a multi-region platform uses them: failover on a health
# check (the API port is up, 127.0.0.2 is not), weighted and hashed picks.
cat >"$T/zones/lua.test.zone" <<EOF
\$ORIGIN lua.test.
\$TTL 300
@        SOA   ns1 hostmaster 1 7200 3600 1209600 300
@        NS    ns1
ns1      A     192.0.2.53
up       LUA   A    "ifportup($API_PORT, {'127.0.0.1', '127.0.0.2'})"
web      LUA   A    "ifurlup('http://127.0.0.1:$API_PORT/healthz', {{'127.0.0.1'}, {'192.0.2.9'}})"
weighted LUA   A    "pickwhashed({{15, '192.0.2.1'}, {42, '192.0.2.2'}})"
hashed   LUA   A    "pickhashed({'192.0.2.1', '192.0.2.2', '192.0.2.3'})"
random   LUA   A    "pickrandom({'192.0.2.1', '192.0.2.2'})"
acme     TXT   "placeholder"
EOF
# The TCP stream keeps its connections for the whole run: dnsperf 2.10
# does not survive a server that ends pipelined connections under load
# (the queries in flight time out, then "failed to receive packet: Bad file
# descriptor" stops the stream). The per-connection limits are tested in
# tests/hostile.rs; the probe opens a connection per TCP query.
cat >"$T/pooldns.toml" <<EOF
[dns]
listen = ["127.0.0.1:$DNS_PORT"]
tcp_max_queries = 1000000000
tcp_max_connection_time = 86400

[api]
listen = "127.0.0.1:$API_PORT"
api_key = "$KEY"

[store]
url = "sqlite://$T/pooldns.db"

[zones]
directory = "$T/zones"

[[tsig]]
name = "soak"
algorithm = "hmac-sha256"
secret = "$TSIG_SECRET"

[[update.grants]]
key = "soak"
zone = "lua.test"
names = ["acme", "*.upd"]
types = ["TXT", "A"]
EOF
"$POOLDNS_BIN" zone import --config "$T/pooldns.toml" "$T/zones/bench.test.zone" >/dev/null
"$POOLDNS_BIN" zone import --config "$T/pooldns.toml" "$T/zones/lua.test.zone" >/dev/null
"$POOLDNS_BIN" zone secure --config "$T/pooldns.toml" bench.test >/dev/null
start_pooldns "$T/pooldns.toml" "$T/pooldns.log"
wait_readyz "$API_PORT" 120 "$POOLDNS_PID" "$T/pooldns.log"

write_hot_queries "$T/hot.txt"
printf '%s\n' "up.lua.test. A" "web.lua.test. A" "weighted.lua.test. A" "hashed.lua.test. A" \
    "random.lua.test. A" "acme.lua.test. TXT" >"$T/lua.txt"

log "soak: ${DURATION}s at ${RATE} q/s against pooldns pid $POOLDNS_PID"
"$VENV/bin/python" "$BENCH_DIR/soak_driver.py" \
    --pid "$POOLDNS_PID" --dns "$DNS_PORT" --api "$API_PORT" --key "$KEY" \
    --tsig "hmac-sha256:soak:$TSIG_SECRET" --work "$T" --out "$OUT" \
    --duration "$DURATION" --rate "$RATE" --sample "$SAMPLE" \
    --note "${NOTE:-}" ${RESULTS_FILE:+--results "$RESULTS_FILE"}
