#!/usr/bin/env bash
# `npm run bench`: bootstraps, builds, and runs every compiled benchmark in bench/ (results go to
# bench/results/). The suite itself lands with the benchmark issue.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm run --silent build
shopt -s nullglob
benches=(dist/bench/*.bench.js)
if [ ${#benches[@]} -eq 0 ]; then
  echo "bench: no benchmarks yet"
  exit 0
fi
for b in "${benches[@]}"; do
  echo "bench: $b"
  node "$b"
done
