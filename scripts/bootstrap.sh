#!/usr/bin/env bash
# Sourced by the npm scripts that a new user runs first (test, demo, bench): installs the npm
# packages when they are missing or older than package-lock.json, and makes sure etcd is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/ensure-etcd.sh >&2
