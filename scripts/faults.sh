#!/usr/bin/env bash
# `npm run faults [-- jest args…]`: bootstraps, builds (the scenarios run the compiled CLI as child
# processes), runs every fault scenario in test/faults/ one file at a time (LOOKASIDE_FAULTS_ALL=1
# also runs the slow ones that `npm test` skips), then gathers faults-results/<scenario>.json into
# faults-results/latest.json and latest.md and prints the table. Loopback only; bounded by jest's
# per-test timeouts and a 15-minute cap.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm run --silent build

# Stale scenario reports must not leak into latest.*: start from an empty set.
mkdir -p faults-results
find faults-results -name '*.json' ! -name 'latest.json' -delete

start=$(date +%s)
status=0
LOOKASIDE_FAULTS_ALL=1 timeout --kill-after=10 900 npx jest --runInBand test/faults "$@" || status=$?
FAULTS_COMMAND="npm run faults${*:+ -- $*}" FAULTS_EXIT="$status" node scripts/faults-report.js
echo "faults: done in $(($(date +%s) - start)) s (after the build), jest exit $status"
exit "$status"
