#!/usr/bin/env bash
# Sourced by the npm scripts that a new user runs first (test, demo, bench): installs the npm
# packages when they are missing or older than package-lock.json, and makes sure etcd is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -L node_modules ]; then
  # A shared install (git worktrees symlink one node_modules): it is managed where it lives. Never
  # `npm ci` through the link: npm empties the link's target (everyone's install) and then installs
  # into a fresh directory here. A worktree's package-lock.json is always newer than the shared
  # install's marker, so the check below would fire in every worktree.
  if [ ! -f node_modules/.package-lock.json ]; then
    echo "bootstrap: node_modules links to $(readlink node_modules), which has no install; run npm ci there" >&2
  fi
elif [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/ensure-etcd.sh >&2
