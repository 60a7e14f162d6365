#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and prints, per target, the
# executions, the coverage reached (libFuzzer's `cov`/`ft` counters) and the corpus size.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# libFuzzer is coverage-guided: the inputs that reach new edges are kept in fuzz/corpus/<target>
# (seeded from fuzz/seeds/<target>) and mutated further, so later runs start where earlier ones
# stopped. A crash or failed assertion stops that target, leaves the input in
# fuzz/artifacts/<target>/ and makes the script exit 1 after the other targets have run;
# replay one with `cargo +nightly fuzz run <target> <file>`.
#
# MINYI_FUZZ_DOMAIN_ONLY=1 builds and runs only the targets of the pure domain (tracking codes,
# the calendar CSV), which build in minutes; MINYI_FUZZ_TARGETS="a b" runs only those targets.
#
# cargo-fuzz needs a nightly rustc (-Zsanitizer, -Cpasses=sancov-module). The nightly toolchain is
# used when rustup has one (MINYI_FUZZ_TOOLCHAIN overrides its name); with only a stable
# toolchain, RUSTC_BOOTSTRAP=1 makes the stable rustc accept the same flags.
set -euo pipefail

SECONDS_PER_TARGET="${1:-60}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi
TOOLCHAIN="${MINYI_FUZZ_TOOLCHAIN:-nightly}"
if rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    CARGO=(cargo "+$TOOLCHAIN")
else
    echo "no $TOOLCHAIN toolchain: building with the stable one and RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
    CARGO=(cargo)
fi
echo "rustc: $("${CARGO[@]}" --version) / $(rustup run "$TOOLCHAIN" rustc --version 2>/dev/null || rustc --version)"

FEATURES=()
if [ "${MINYI_FUZZ_DOMAIN_ONLY:-}" = 1 ]; then
    FEATURES=(--no-default-features)
    MINYI_FUZZ_TARGETS="${MINYI_FUZZ_TARGETS:-tracking_code calendar_csv}"
fi
"${CARGO[@]}" fuzz build "${FEATURES[@]}"
if [ -n "${MINYI_FUZZ_TARGETS:-}" ]; then
    read -r -a TARGETS <<<"$MINYI_FUZZ_TARGETS"
else
    mapfile -t TARGETS < <("${CARGO[@]}" fuzz list)
fi

failed=0
summary=()
for target in "${TARGETS[@]}"; do
    corpus="corpus/$target"
    mkdir -p "$corpus" "artifacts/$target"
    if [ -d "seeds/$target" ]; then
        cp -n "seeds/$target"/* "$corpus"/ 2>/dev/null || true
    fi
    before=$(find "$corpus" -type f | wc -l)
    log="artifacts/$target/last-run.log"
    echo "== $target: ${SECONDS_PER_TARGET}s"
    status=ok
    if ! "${CARGO[@]}" fuzz run "${FEATURES[@]}" "$target" "$corpus" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        status=FAILED
        failed=1
        grep -E "panicked|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -5 || true
    fi
    # A crashed run prints no final stats: the greps may find nothing (not an error here).
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1 || true)
    speed=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' | tail -1 || true)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    after=$(find "$corpus" -type f | wc -l)
    line=$(printf '%-15s %-7s runs=%-10s exec/s=%-7s %-20s corpus %s -> %s' \
        "$target" "$status" "${runs:-?}" "${speed:-?}" "${cov:-cov: ?}" "$before" "$after")
    echo "$line"
    summary+=("$line")
done

echo
echo "== fuzzing summary (${SECONDS_PER_TARGET}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
