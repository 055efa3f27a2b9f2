#!/usr/bin/env bash
# Random-subdomain flood: one source sends queries for names never asked
# before as fast as it can (testkit's `flood` example, no waiting for
# answers) at pooldns with response rate limiting on, for DURATION seconds.
# Reports the rate sent, what came back (whole answers and slips), the
# limiter's counts, resident memory every 5 s, and whether a bystander in
# another /24 kept getting its answers. See benches/README.md.
#
# Environment (all optional):
#   DURATION      seconds of flood, default 60
#   SENDERS       sender threads, default 2
#   RRL           [rrl] rate, default 20 (0 = off: memory must stay bounded
#                 without the limiter too)
#   POOLDNS_BIN   use this binary instead of building with cargo
#   POOLDNS_PORT, POOLDNS_API_PORT   default 15353, 15380
#   NOTE          free text stored in the JSON summary
#   RESULTS_FILE  also append the JSON summary line to this file
#   KEEP_TMP      1 = keep the work dir
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-60}
SENDERS=${SENDERS:-2}
RRL=${RRL:-20}
POOLDNS_PORT=${POOLDNS_PORT:-15353}
POOLDNS_API_PORT=${POOLDNS_API_PORT:-15380}
ZONE=bench.test.

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 5 ]] || die "DURATION must be at least 5 seconds"
[[ $RRL =~ ^[0-9]+$ ]] || die "RRL must be a number"
require_tools kdig curl ss
check_ports_free "$POOLDNS_PORT" "$POOLDNS_API_PORT"
ensure_pooldns_bin
target=${CARGO_TARGET_DIR:-/var/tmp/pooldns-target}
log "building the flood sender (cargo build --release -p testkit --example flood)"
(cd "$REPO_DIR" && CARGO_TARGET_DIR=$target cargo build --release -p testkit --example flood) >&2 \
    || die "cargo build of the flood example failed"
FLOOD=$target/release/examples/flood

make_tmp flood
T=$BENCH_TMP
mkdir -p "$T/zones"
write_bench_zone "$T/zones/bench.test.zone"
write_pooldns_config "$T/pooldns.toml" "$POOLDNS_PORT" "$POOLDNS_API_PORT" "$T/pooldns.db" "$T/zones"
printf '\n[rrl]\nrate = %s\nslip = 2\n' "$RRL" >>"$T/pooldns.toml"
start_pooldns "$T/pooldns.toml" "$T/pooldns.log"
wait_readyz "$POOLDNS_API_PORT" 120 "$POOLDNS_PID" "$T/pooldns.log"

read -r rss_start _ < <(mem_kb "$POOLDNS_PID")
read -r dropped0 slipped0 < <(rrl_counts "$POOLDNS_API_PORT")
: >"$T/rss.txt"
( while :; do read -r rss _ < <(mem_kb "$POOLDNS_PID"); echo "$rss" >>"$T/rss.txt"; sleep 5; done ) &
sampler=$!
echo "0 0" >"$T/bystander.txt"
bystander "$POOLDNS_PORT" "www.$ZONE" "$T/bystander.txt" &
watcher=$!
c0=$(cpu_ticks "$POOLDNS_PID")
log "flood: ${DURATION}s of unique names under $ZONE from 127.0.0.1 (${SENDERS} senders), [rrl] rate = $RRL"
result=$("$FLOOD" "127.0.0.1:$POOLDNS_PORT" "$ZONE" "$DURATION" "$SENDERS")
c1=$(cpu_ticks "$POOLDNS_PID")
kill "$sampler" "$watcher" 2>/dev/null || true
wait "$sampler" "$watcher" 2>/dev/null || true
read -r rss_end hwm < <(mem_kb "$POOLDNS_PID")
read -r dropped1 slipped1 < <(rrl_counts "$POOLDNS_API_PORT")
read -r by_ok by_sent <"$T/bystander.txt"
rss_series=$(paste -sd, "$T/rss.txt")
kill -0 "$POOLDNS_PID" 2>/dev/null || die "pooldns died under the flood"

line="{\"bench\":\"flood\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"duration_s\":$DURATION,\"senders\":$SENDERS,\"rrl_rate\":$RRL,\"flood\":$result,\"pooldns_cpu_s\":$(( (c1 - c0) / CLK_TCK )),\"rrl_dropped\":$((dropped1 - dropped0)),\"rrl_slipped\":$((slipped1 - slipped0)),\"bystander\":[$by_ok,$by_sent],\"rss_kb_start\":$rss_start,\"rss_kb_end\":$rss_end,\"hwm_kb\":$hwm,\"rss_kb_every_5s\":[$rss_series],\"nproc\":$(nproc),\"note\":\"${NOTE:-}\"}"
echo "SUMMARY $line"
if [[ -n ${RESULTS_FILE:-} ]]; then echo "$line" >>"$RESULTS_FILE"; fi
