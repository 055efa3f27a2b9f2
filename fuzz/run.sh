#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, from the
# committed corpus; new inputs go to a scratch directory unless KEEP=1,
# which adds them to fuzz/corpus/. A finding stops the run with the input
# under fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh                     # every target, 30 s each
#   SECONDS_EACH=900 KEEP=1 LOG_DIR=/tmp/fuzz bash fuzz/run.sh answer lua
#
# LOG_DIR keeps each target's libFuzzer output (default: removed).
#
# cargo-fuzz needs the nightly sanitizer flags; RUSTC_BOOTSTRAP lets the
# stable toolchain take them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

SECONDS_EACH=${SECONDS_EACH:-30}
KEEP=${KEEP:-0}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-/var/tmp/pooldns-fuzz-target}

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
targets=("$@")
# Every file of fuzz_targets/ is a target (the seed writer is not).
[ "${#targets[@]}" -gt 0 ] || mapfile -t targets < <(basename -s .rs fuzz_targets/*.rs)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
LOG_DIR=${LOG_DIR:-$scratch}
mkdir -p "$LOG_DIR"
for target in "${targets[@]}"; do
    corpora=("corpus/$target")
    if [ "$KEEP" != 1 ]; then
        mkdir -p "$scratch/$target"
        corpora=("$scratch/$target" "corpus/$target")
    fi
    echo "fuzzing $target for ${SECONDS_EACH}s"
    log="$LOG_DIR/$target.log"
    if ! cargo fuzz run -O "$target" "${corpora[@]}" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz target $target failed; its input is under fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(#[0-9]+.*INITED|Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
done
