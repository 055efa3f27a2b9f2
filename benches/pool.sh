#!/usr/bin/env bash
# Pool allocation benchmark: sustained allocations per second (reserve +
# commit: a signed child zone delegated with NS and DS, six A records) and
# the time from the first request to an answer delv validates from the pool
# zone's trust anchor. pooldns on SQLite and on PostgreSQL, against
# PowerDNS 4.7 (gsqlite3) driven through its HTTP API the way the
# pool-domain-manager drove it, plus the DS records PDM never wrote.
# See benches/README.md.
#
# Environment (all optional):
#   SERVERS         "pooldns pdns" (default) | "pooldns" | "pdns"
#   COUNT           allocations in the throughput run, default 300
#   CLIENTS         concurrent API clients, default 4
#   SAMPLES         allocations timed one by one until delv validates, default 10
#   PG_URL          PostgreSQL for the second pooldns run, default
#                   $POOLDNS_TEST_PG_URL; empty skips it
#   POOLDNS_BIN     use this binary instead of building with cargo
#   POOLDNS_PORT, POOLDNS_API_PORT, PDNS_PORT, PDNS_API_PORT
#                   default 15383, 15384, 15385, 15386
#   NOTE            free text stored in the JSON summary (e.g. the commit id)
#   RESULTS_FILE    also append the JSON summary line to this file
#   KEEP_TMP        1 = keep the work dir
#   BENCH_TMPDIR    parent of the work dir, default /var/tmp
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVERS=${SERVERS:-"pooldns pdns"}
COUNT=${COUNT:-300}
CLIENTS=${CLIENTS:-4}
SAMPLES=${SAMPLES:-10}
PG_URL=${PG_URL-${POOLDNS_TEST_PG_URL:-}}
POOLDNS_PORT=${POOLDNS_PORT:-15383}
POOLDNS_API_PORT=${POOLDNS_API_PORT:-15384}
PDNS_PORT=${PDNS_PORT:-15385}
PDNS_API_PORT=${PDNS_API_PORT:-15386}
PDNS_RECEIVER_THREADS=${PDNS_RECEIVER_THREADS:-2}
PDNS_DISTRIBUTOR_THREADS=${PDNS_DISTRIBUTOR_THREADS:-3}
KEY=bench-api-key-$$

check_servers_var pooldns pdns
require_tools python3 dig delv kdig curl ss
have_server pdns && require_tools pdns_server sqlite3
check_ports_free "$POOLDNS_PORT" "$POOLDNS_API_PORT" "$PDNS_PORT" "$PDNS_API_PORT"
have_server pooldns && ensure_pooldns_bin
make_tmp pool
T=$BENCH_TMP
DRIVER=$BENCH_DIR/pool_driver.py

# anchors POOL PORT FILE: a delv trust-anchor file with POOL's SEP keys.
anchors() {
    local pool=$1 port=$2 file=$3 i
    for i in $(seq 100); do
        dig @127.0.0.1 -p "$port" +norec +short "$pool" DNSKEY | grep -q '^257 ' && break
        sleep 0.1
    done
    dig @127.0.0.1 -p "$port" +norec +short "$pool" DNSKEY | awk -v z="$pool" '
        BEGIN { print "trust-anchors {" }
        $1 == 257 { k = ""; for (i = 4; i <= NF; i++) k = k $i; printf "  %s. static-key 257 3 %s \"%s\";\n", z, $3, k }
        END { print "};" }' >"$file"
    grep -q static-key "$file" || die "no DNSKEY 257 for $pool on port $port"
}

# run_pooldns LABEL STORE_URL -> JSON of the driver on stdout
run_pooldns() {
    local label=$1 url=$2 dir=$T/pooldns-$1 pool
    pool="pool$$$(date +%s).test"
    mkdir -p "$dir/zones"
    cat >"$dir/pooldns.toml" <<EOF
[dns]
listen = ["127.0.0.1:$POOLDNS_PORT"]
[api]
listen = "127.0.0.1:$POOLDNS_API_PORT"
api_key = "$KEY"
[store]
url = "$url"
[zones]
directory = "$dir/zones"
[pool]
domains = ["$pool"]
nameservers = ["ns1.$pool", "ns2.$pool"]
EOF
    cat >"$dir/pool.zone" <<EOF
\$ORIGIN $pool.
\$TTL 3600
@ SOA ns1 hostmaster 1 3600 900 1209600 300
@ NS ns1
@ NS ns2
ns1 A 127.0.0.1
ns2 A 127.0.0.2
EOF
    "$POOLDNS_BIN" zone import "$dir/pool.zone" --config "$dir/pooldns.toml" >/dev/null
    "$POOLDNS_BIN" zone secure "$pool" --config "$dir/pooldns.toml" >/dev/null 2>&1
    POOLDNS_LOG=warn start_pooldns "$dir/pooldns.toml" "$dir/pooldns.log"
    wait_answer "$POOLDNS_PORT" "$pool" SOA 30 "$POOLDNS_PID" pooldns "$dir/pooldns.log"
    anchors "$pool" "$POOLDNS_PORT" "$dir/anchors"
    log "pooldns ($label): $COUNT allocations on $CLIENTS clients, then $SAMPLES timed until delv validates"
    python3 "$DRIVER" pooldns "http://127.0.0.1:$POOLDNS_API_PORT" "$KEY" "$pool" "$POOLDNS_PORT" \
        "$dir/anchors" "$COUNT" "$CLIENTS" "$SAMPLES"
    stop_pid "$POOLDNS_PID"
    # A shared database keeps nothing of the run.
    "$POOLDNS_BIN" zone list --config "$dir/pooldns.toml" | cut -f1 | grep -F "$pool." | while read -r zone; do
        "$POOLDNS_BIN" zone delete "$zone" --config "$dir/pooldns.toml" >/dev/null
    done
}

run_pdns() {
    local dir=$T/pdns schema="" f pool=pool.test
    for f in /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql \
             /usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql; do
        if [[ -r $f ]]; then schema=$f; break; fi
    done
    [[ -n $schema ]] || die "gsqlite3 schema not found (apt-get install pdns-backend-sqlite3)"
    mkdir -p "$dir"
    sqlite3 "$dir/pdns.sqlite3" <"$schema"
    # PDM's PowerDNS settings (cache-ttl and query-cache-ttl 20 are also the
    # defaults); the API on loopback.
    cat >"$dir/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$dir/pdns.sqlite3
gsqlite3-dnssec=yes
security-poll-suffix=
api=yes
api-key=$KEY
webserver=yes
webserver-address=127.0.0.1
webserver-port=$PDNS_API_PORT
webserver-allow-from=127.0.0.1
default-soa-edit-signed=INCEPTION-EPOCH
cache-ttl=20
query-cache-ttl=20
EOF
    start_pdns "$dir"
    local api=http://127.0.0.1:$PDNS_API_PORT/api/v1/servers/localhost/zones i
    for i in $(seq 100); do curl -sf -H "X-API-Key: $KEY" "$api" >/dev/null && break; sleep 0.1; done
    curl -sf -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -X POST "$api" -d "{
        \"name\": \"$pool.\", \"kind\": \"Native\", \"dnssec\": true,
        \"nameservers\": [\"ns1.$pool.\", \"ns2.$pool.\"],
        \"rrsets\": [
          {\"name\": \"ns1.$pool.\", \"type\": \"A\", \"ttl\": 3600, \"records\": [{\"content\": \"127.0.0.1\", \"disabled\": false}]},
          {\"name\": \"ns2.$pool.\", \"type\": \"A\", \"ttl\": 3600, \"records\": [{\"content\": \"127.0.0.2\", \"disabled\": false}]}]}" >/dev/null \
        || die "PowerDNS did not create $pool"
    curl -sf -H "X-API-Key: $KEY" -X PUT "$api/$pool./rectify" >/dev/null || die "rectify $pool failed"
    anchors "$pool" "$PDNS_PORT" "$dir/anchors"
    log "pdns: $COUNT allocations on $CLIENTS clients, then $SAMPLES timed until delv validates"
    python3 "$DRIVER" pdns "http://127.0.0.1:$PDNS_API_PORT" "$KEY" "$pool" "$PDNS_PORT" \
        "$dir/anchors" "$COUNT" "$CLIENTS" "$SAMPLES"
    stop_pid "$PDNS_PID"
}

sqlite_json=null postgres_json=null pdns_json=null
if have_server pooldns; then
    sqlite_json=$(run_pooldns sqlite "sqlite://$T/pooldns-sqlite/pooldns.db")
    log "pooldns on SQLite: $sqlite_json"
    if [[ -n $PG_URL ]]; then
        postgres_json=$(run_pooldns postgres "$PG_URL")
        log "pooldns on PostgreSQL: $postgres_json"
    fi
fi
if have_server pdns; then
    pdns_json=$(run_pdns)
    log "PowerDNS: $pdns_json"
fi

summary=$(python3 - "$sqlite_json" "$postgres_json" "$pdns_json" <<'EOF'
import datetime, json, os, sys
sqlite, postgres, pdns = (json.loads(a) for a in sys.argv[1:4])
out = {"bench": "pool", "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "nproc": os.cpu_count(), "pooldns_sqlite": sqlite, "pooldns_postgres": postgres, "pdns_gsqlite3": pdns}
if sqlite and pdns:
    out["alloc_per_s_ratio_sqlite"] = round(sqlite["alloc_per_s"] / pdns["alloc_per_s"], 2)
    out["validate_ms_ratio_sqlite"] = round(sqlite["validate_ms_median"] / pdns["validate_ms_median"], 3)
if postgres and pdns:
    out["alloc_per_s_ratio_postgres"] = round(postgres["alloc_per_s"] / pdns["alloc_per_s"], 2)
out["note"] = os.environ.get("NOTE", "")
print(json.dumps(out))
EOF
)
echo "$summary"
if [[ -n ${RESULTS_FILE:-} ]]; then echo "$summary" >>"$RESULTS_FILE"; fi
