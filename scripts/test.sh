#!/usr/bin/env bash
# `npm test`: bootstraps what is missing, builds (the e2e tests run the compiled CLI), then runs
# every test. Extra arguments go to jest (e.g. `npm test -- test/unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm run --silent build
exec npx jest "$@"
