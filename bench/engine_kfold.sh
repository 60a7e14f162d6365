#!/usr/bin/env bash
# 5-fold stratified cross-validation of the minyi-engine classifier against the reference
# baseline (../shared/bench/baseline_svm.py: TF-IDF char 1-3-grams + LinearSVC), on the same
# split files, printed side by side: per-fold and mean±std macro-F1, accuracy, training time,
# p50/p99 per-message latency (engine; single thread, segmentation included).
#
# Usage: bench/engine_kfold.sh [--folds 5] [--seed 42] [--config '{"c":0.5}'] [--no-baseline]
# Needs python3 with scikit-learn for the baseline (installed with pip when missing).
# Splits: stratified by label, exact duplicates kept in one fold, deterministic seed; the split
# CSVs go to a temporary directory that is removed afterwards.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${MINYI_SHARED:-$root/../shared}"
data="$shared/data/teddy2020/messages_train.csv"
baseline="$shared/bench/baseline_svm.py"

if ! python3 -c 'import sklearn' 2>/dev/null; then
    echo "installing scikit-learn for the baseline" >&2
    python3 -m pip install --quiet scikit-learn >&2
fi

cd "$root"
cargo build --release -p minyi-engine --example kfold >&2
exec "$root/target/release/examples/kfold" --data "$data" --baseline "$baseline" "$@"
