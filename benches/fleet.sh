#!/usr/bin/env bash
# Fleet benchmark: the time from a change written through node A to its
# answer on node B (a second pooldns on the same PostgreSQL store), on a
# Knot secondary of node A and on a pooldns secondary of node A (node C,
# its own SQLite store; both by NOTIFY, then IXFR), over CHANGES changes; and
# the IXFR of a one-record change in a BIG-record zone: its size and time.
# See benches/README.md.
#
# Environment (all optional):
#   PG_URL          PostgreSQL shared by the nodes, default $POOLDNS_TEST_PG_URL
#                   or postgres://postgres@127.0.0.1:5432/test
#   CHANGES         changes timed, default 1000
#   BIG             records of the IXFR zone, default 1000000
#   POOLDNS_BIN     use this binary instead of building with cargo
#   PORT_BASE       first of the 7 ports used, default 15410
#   NOTE            free text stored in the JSON summary
#   RESULTS_FILE    also append the JSON summary line to this file
#   KEEP_TMP        1 = keep the work dir
#   BENCH_TMPDIR    parent of the work dir, default /var/tmp
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_URL=${PG_URL:-${POOLDNS_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}}
CHANGES=${CHANGES:-1000}
BIG=${BIG:-1000000}
PORT_BASE=${PORT_BASE:-15410}
A_DNS=$PORT_BASE A_API=$((PORT_BASE + 1)) B_DNS=$((PORT_BASE + 2)) B_API=$((PORT_BASE + 3)) KNOT_DNS=$((PORT_BASE + 4))
C_DNS=$((PORT_BASE + 5)) C_API=$((PORT_BASE + 6))
KEY=bench-fleet-key-$$
ZONE=fleet$$.test.

require_tools python3 knotd dig curl ss
check_ports_free "$A_DNS" "$A_API" "$B_DNS" "$B_API" "$KNOT_DNS" "$C_DNS" "$C_API"
ensure_pooldns_bin
make_tmp fleet
T=$BENCH_TMP

# node NAME DNS API STORE_URL: a pooldns configuration
node() {
    mkdir -p "$T/$1/zones"
    cat >"$T/$1/pooldns.toml" <<CONF
[dns]
listen = ["127.0.0.1:$2"]
[api]
listen = "127.0.0.1:$3"
api_key = "$KEY"
[store]
url = "$4"
[zones]
directory = "$T/$1/zones"
[transfer]
allow = ["127.0.0.1"]
notify = ["127.0.0.1:$KNOT_DNS", "127.0.0.1:$C_DNS"]
CONF
}

# --- propagation: node A -> node B, node A -> Knot -------------------------
node a "$A_DNS" "$A_API" "$PG_URL"
node b "$B_DNS" "$B_API" "$PG_URL"
cat >"$T/zone" <<ZONE
\$ORIGIN $ZONE
\$TTL 60
@ SOA ns1 hostmaster 1 3600 900 1209600 60
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.1
ZONE
"$POOLDNS_BIN" zone import "$T/zone" --config "$T/a/pooldns.toml" >/dev/null
POOLDNS_LOG=warn start_pooldns "$T/a/pooldns.toml" "$T/a/pooldns.log"; A_PID=$POOLDNS_PID
POOLDNS_LOG=warn start_pooldns "$T/b/pooldns.toml" "$T/b/pooldns.log"; B_PID=$POOLDNS_PID
wait_answer "$A_DNS" "${ZONE%.}" SOA 30 "$A_PID" pooldns-a "$T/a/pooldns.log"
wait_answer "$B_DNS" "${ZONE%.}" SOA 30 "$B_PID" pooldns-b "$T/b/pooldns.log"
mkdir -p "$T/knot/db" "$T/knot/rundir"
cat >"$T/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$KNOT_DNS
    rundir: "$T/knot/rundir"
log:
  - target: stderr
    any: warning
database:
    storage: "$T/knot/db"
remote:
  - id: a
    address: 127.0.0.1@$A_DNS
acl:
  - id: notify
    address: 127.0.0.1
    action: notify
zone:
  - domain: $ZONE
    storage: "$T/knot"
    master: a
    acl: notify
    zonefile-sync: -1
    zonefile-load: none
    journal-content: changes
CONF
start_knot "$T/knot/knot.conf" "$T/knot/knot.log"
wait_answer "$KNOT_DNS" "${ZONE%.}" SOA 30 "$KNOT_PID" knot "$T/knot/knot.log"
node c "$C_DNS" "$C_API" "sqlite://$T/c/pooldns.db"
"$POOLDNS_BIN" zone secondary "$ZONE" --primary "127.0.0.1:$A_DNS" --config "$T/c/pooldns.toml" >/dev/null
POOLDNS_LOG=warn start_pooldns "$T/c/pooldns.toml" "$T/c/pooldns.log"; C_PID=$POOLDNS_PID
wait_answer "$C_DNS" "${ZONE%.}" SOA 30 "$C_PID" pooldns-c "$T/c/pooldns.log"
log "fleet: $CHANGES changes through node A, timed to node B, to Knot and to node C"
propagation=$(python3 "$BENCH_DIR/fleet_driver.py" "http://127.0.0.1:$A_API" "$KEY" "$ZONE" "$CHANGES" \
    node_b="$B_DNS" knot_secondary="$KNOT_DNS" pooldns_secondary="$C_DNS")
log "fleet: $propagation"
stop_pid "$C_PID"
stop_pid "$KNOT_PID"
stop_pid "$B_PID"
stop_pid "$A_PID"
"$POOLDNS_BIN" zone delete "$ZONE" --config "$T/a/pooldns.toml" >/dev/null

# --- IXFR of one change in a BIG-record zone (SQLite store) ----------------
node big "$A_DNS" "$A_API" "sqlite://$T/big/pooldns.db"
python3 - "$T/big.zone" "$BIG" <<'PY'
import sys
path, count = sys.argv[1], int(sys.argv[2])
with open(path, "w") as out:
    out.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n")
    for i in range(count):
        out.write(f"r{i} A 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}\n")
PY
"$POOLDNS_BIN" zone import "$T/big.zone" --config "$T/big/pooldns.toml" >/dev/null
POOLDNS_LOG=warn start_pooldns "$T/big/pooldns.toml" "$T/big/pooldns.log"; BIG_PID=$POOLDNS_PID
wait_answer "$A_DNS" big.test SOA 600 "$BIG_PID" pooldns "$T/big/pooldns.log"
curl -sf -X PATCH -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
    -d '{"rrsets":[{"name":"r7.big.test.","type":"A","ttl":300,"changetype":"REPLACE","records":[{"content":"192.0.2.7","disabled":false}]}]}' \
    "http://127.0.0.1:$A_API/api/v1/servers/localhost/zones/big.test." >/dev/null
for _ in $(seq 600); do
    [[ $(dig @127.0.0.1 -p "$A_DNS" +short r7.big.test A) == 192.0.2.7 ]] && break
    sleep 0.1
done
started=$EPOCHREALTIME
ixfr=$(dig @127.0.0.1 -p "$A_DNS" big.test IXFR=1 +tcp)
ixfr_s=$(elapsed_since "$started")
ixfr_records=$(sed -n 's/.*XFR size: \([0-9]*\) records.*/\1/p' <<<"$ixfr")
ixfr_bytes=$(sed -n 's/.*bytes \([0-9]*\).*/\1/p' <<<"$ixfr")
started=$EPOCHREALTIME
axfr=$(dig @127.0.0.1 -p "$A_DNS" big.test AXFR | tail -2)
axfr_s=$(elapsed_since "$started")
axfr_bytes=$(sed -n 's/.*bytes \([0-9]*\).*/\1/p' <<<"$axfr")
stop_pid "$BIG_PID"

summary=$(python3 - "$propagation" "$BIG" "$ixfr_records" "$ixfr_bytes" "$ixfr_s" "$axfr_bytes" "$axfr_s" <<'PY'
import datetime, json, os, sys
propagation = json.loads(sys.argv[1])
big, records, ixfr_bytes, ixfr_s, axfr_bytes, axfr_s = sys.argv[2:8]
print(json.dumps({
    "bench": "fleet", "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "nproc": os.cpu_count(), "propagation": propagation,
    "ixfr": {"zone_records": int(big), "records": int(records or 0), "bytes": int(ixfr_bytes or 0), "s": float(ixfr_s)},
    "axfr_same_zone": {"bytes": int(axfr_bytes or 0), "s": float(axfr_s)},
    "note": os.environ.get("NOTE", ""),
}))
PY
)
echo "$summary"
if [[ -n ${RESULTS_FILE:-} ]]; then echo "$summary" >>"$RESULTS_FILE"; fi
