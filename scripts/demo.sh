#!/usr/bin/env bash
# `npm run demo`: bootstraps what is missing, builds, and runs `lookaside demo` with any arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm run --silent build
exec node dist/cli/lookaside.js demo "$@"
