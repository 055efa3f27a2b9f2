#!/usr/bin/env bash
# PowerDNS API benchmark: PATCH throughput, the time from a PATCH (and from
# a TSIG-signed RFC 2136 UPDATE) to the answer, and a 1,000-record PATCH
# into a large zone, on pooldns (SQLite)
# and PowerDNS 4.7 (gsqlite3) through the same API calls
# (benches/api_driver.py). See benches/README.md.
#
# Environment (all optional):
#   SERVERS         "pooldns pdns" (default) | "pooldns" | "pdns"
#   PATCHES         PATCHes in the throughput run, default 1000
#   BIG             records of the large zone, default 100000
#   POOLDNS_BIN     use this binary instead of building with cargo
#   POOLDNS_PORT, POOLDNS_API_PORT, PDNS_PORT, PDNS_API_PORT
#                   default 15393, 15394, 15395, 15396
#   NOTE            free text stored in the JSON summary
#   RESULTS_FILE    also append the JSON summary line to this file
#   KEEP_TMP        1 = keep the work dir
#   BENCH_TMPDIR    parent of the work dir, default /var/tmp
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVERS=${SERVERS:-"pooldns pdns"}
PATCHES=${PATCHES:-1000}
BIG=${BIG:-100000}
POOLDNS_PORT=${POOLDNS_PORT:-15393}
POOLDNS_API_PORT=${POOLDNS_API_PORT:-15394}
PDNS_PORT=${PDNS_PORT:-15395}
PDNS_API_PORT=${PDNS_API_PORT:-15396}
PDNS_RECEIVER_THREADS=${PDNS_RECEIVER_THREADS:-2}
PDNS_DISTRIBUTOR_THREADS=${PDNS_DISTRIBUTOR_THREADS:-3}
KEY=bench-api-key-$$
ZONE=api.test.
TSIG_SECRET=YmVuY2gtdXBkYXRlLWJlbmNoLXVwZGF0ZS1iZW5jaC0=
TSIG=hmac-sha256:bench-update:$TSIG_SECRET

check_servers_var pooldns pdns
require_tools python3 curl ss nsupdate
have_server pdns && require_tools pdns_server sqlite3
check_ports_free "$POOLDNS_PORT" "$POOLDNS_API_PORT" "$PDNS_PORT" "$PDNS_API_PORT"
have_server pooldns && ensure_pooldns_bin
make_tmp api
T=$BENCH_TMP
DRIVER=$BENCH_DIR/api_driver.py

pooldns_json=null pdns_json=null
if have_server pooldns; then
    mkdir -p "$T/pooldns/zones"
    cat >"$T/pooldns/pooldns.toml" <<EOF
[dns]
listen = ["127.0.0.1:$POOLDNS_PORT"]
[api]
listen = "127.0.0.1:$POOLDNS_API_PORT"
api_key = "$KEY"
[store]
url = "sqlite://$T/pooldns/pooldns.db"
[zones]
directory = "$T/pooldns/zones"
[[tsig]]
name = "bench-update"
algorithm = "hmac-sha256"
secret = "$TSIG_SECRET"
[[update.grants]]
key = "bench-update"
zone = "${ZONE%.}"
names = ["*"]
EOF
    POOLDNS_LOG=warn start_pooldns "$T/pooldns/pooldns.toml" "$T/pooldns/pooldns.log"
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$POOLDNS_API_PORT/healthz" >/dev/null && break; sleep 0.1; done
    log "pooldns: $PATCHES PATCHes, 20 timed, a 1,000-record PATCH into $BIG records"
    pooldns_json=$(python3 "$DRIVER" "http://127.0.0.1:$POOLDNS_API_PORT" "$KEY" "$POOLDNS_PORT" "$ZONE" "$PATCHES" "$BIG" "$TSIG")
    log "pooldns: $pooldns_json"
    stop_pid "$POOLDNS_PID"
fi
if have_server pdns; then
    PD=$T/pdns
    mkdir -p "$PD"
    schema=""
    for f in /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql /usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql; do
        if [[ -r $f ]]; then schema=$f; break; fi
    done
    [[ -n $schema ]] || die "gsqlite3 schema not found (apt-get install pdns-backend-sqlite3)"
    sqlite3 "$PD/pdns.sqlite3" <"$schema"
    cat >"$PD/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$PD/pdns.sqlite3
security-poll-suffix=
api=yes
api-key=$KEY
webserver=yes
webserver-address=127.0.0.1
webserver-port=$PDNS_API_PORT
webserver-allow-from=127.0.0.1
dnsupdate=yes
allow-dnsupdate-from=127.0.0.0/8
EOF
    start_pdns "$PD"
    for _ in $(seq 100); do curl -sf -H "X-API-Key: $KEY" "http://127.0.0.1:$PDNS_API_PORT/api/v1/servers" >/dev/null && break; sleep 0.1; done
    log "pdns: $PATCHES PATCHes, 20 timed, a 1,000-record PATCH into $BIG records"
    # The same TSIG key, allowed to update the zone the driver creates.
    curl -sf -H "X-API-Key: $KEY" -d "{\"name\":\"bench-update\",\"algorithm\":\"hmac-sha256\",\"key\":\"$TSIG_SECRET\"}" \
        "http://127.0.0.1:$PDNS_API_PORT/api/v1/servers/localhost/tsigkeys" >/dev/null
    pdns_json=$(TSIG_METADATA=1 python3 "$DRIVER" "http://127.0.0.1:$PDNS_API_PORT" "$KEY" "$PDNS_PORT" "$ZONE" "$PATCHES" "$BIG" "$TSIG")
    log "pdns: $pdns_json"
    stop_pid "$PDNS_PID"
fi

summary=$(python3 - "$pooldns_json" "$pdns_json" <<'EOF'
import datetime, json, os, sys
ours, pdns = (json.loads(a) for a in sys.argv[1:3])
out = {"bench": "api", "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "nproc": os.cpu_count(), "pooldns": ours, "pdns_gsqlite3": pdns}
if ours and pdns:
    out["patch_per_s_ratio"] = round(ours["patch_per_s"] / pdns["patch_per_s"], 2)
    out["answer_ms_ratio"] = round(ours["answer_ms_median"] / pdns["answer_ms_median"], 3)
    out["update_ms_ratio"] = round(ours["update_ms_median"] / pdns["update_ms_median"], 3)
    out["big_answer_s_ratio"] = round(ours["big_answer_s"] / pdns["big_answer_s"], 3)
out["note"] = os.environ.get("NOTE", "")
print(json.dumps(out))
EOF
)
echo "$summary"
if [[ -n ${RESULTS_FILE:-} ]]; then echo "$summary" >>"$RESULTS_FILE"; fi
