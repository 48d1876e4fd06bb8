#!/usr/bin/env bash
# Sourced by the npm scripts that a new user runs first (test, demo, bench): installs the npm
# packages when they are missing or were installed from another package-lock.json, and makes
# sure etcd is there. The check compares a hash of package-lock.json with the one recorded at the
# last install (file times lie: git sets them on checkout, worktrees share one node_modules).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stamp=node_modules/.lookaside-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
if [ ! -d node_modules/@grpc/grpc-js ] || [ "$want" != "$have" ]; then
  echo "bootstrap: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
bash scripts/ensure-etcd.sh >&2
# The console's browser tests drive Debian's chromium; without it they skip, saying why.
bash scripts/ensure-chromium.sh >&2 || echo "bootstrap: no chromium: the console's browser tests will be skipped" >&2
