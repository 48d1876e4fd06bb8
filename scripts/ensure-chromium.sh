#!/usr/bin/env bash
# Makes sure a Chromium for the console's browser tests is on this machine: $CHROMIUM_BIN, or
# Debian's /usr/bin/chromium. When it is missing and we are root, installs Debian's chromium with
# apt-get; otherwise prints the one command that installs it and fails (the browser tests then
# skip with that reason). Sourced by bootstrap.sh next to ensure-etcd.sh.
set -euo pipefail

found() {
  if [ -n "${CHROMIUM_BIN:-}" ] && [ -x "$CHROMIUM_BIN" ]; then echo "$CHROMIUM_BIN"; return 0; fi
  [ -x /usr/bin/chromium ] && { echo /usr/bin/chromium; return 0; }
  return 1
}

if bin=$(found); then
  echo "chromium: $bin"
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not found; installing Debian's chromium with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Another apt-get (a colleague's etcd install) may hold the lock: wait for it, bounded.
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >/dev/null
  bin=$(found) || { echo "chromium: apt-get install chromium did not provide /usr/bin/chromium" >&2; exit 1; }
  echo "chromium: $bin"
  exit 0
fi

echo "chromium: not found. Install it with:  sudo apt-get install -y chromium   (or set CHROMIUM_BIN)" >&2
exit 1
