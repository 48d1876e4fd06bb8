#!/usr/bin/env bash
# `npm run bench [-- NAME…]`: bootstraps, builds the package plus bench/ (tsconfig.bench.json, into
# dist/), runs every compiled benchmark dist/bench/<name>.bench.js (or only the NAMEs given) one
# after another, each writing bench/results/<name>.json, then writes bench/results/latest.json
# and latest.md. Loopback only. Set BENCH_CPU_PROF_DIR=<dir> to get V8 CPU profiles of the
# benchmarks' child processes (LB server, greeters).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm run --silent build
npx tsc -p tsconfig.bench.json

names=()
if [ $# -gt 0 ]; then
  names=("$@")
else
  shopt -s nullglob
  for b in dist/bench/*.bench.js; do
    n="$(basename "$b" .bench.js)"
    names+=("$n")
  done
fi
if [ ${#names[@]} -eq 0 ]; then
  echo "bench: no benchmarks found in dist/bench" >&2
  exit 1
fi

# Stale per-benchmark results must not leak into latest.*: start from an empty set.
mkdir -p bench/results
for n in "${names[@]}"; do rm -f "bench/results/$n.json"; done

start=$(date +%s)
for n in "${names[@]}"; do
  b="dist/bench/$n.bench.js"
  if [ ! -f "$b" ]; then
    echo "bench: no benchmark named $n ($b)" >&2
    exit 1
  fi
  echo "bench: $n"
  # Bounded: a benchmark that hangs is killed after 5 minutes.
  timeout --kill-after=10 300 node "$b"
done
BENCH_COMMAND="npm run bench${*:+ -- $*}" node dist/bench/write-latest-report.js "${names[@]}"
echo "bench: done in $(($(date +%s) - start)) s (after the build)"
