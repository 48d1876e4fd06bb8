#!/usr/bin/env bash
# Makes sure an etcd server binary is on this machine. Finds it ($ETCD_BIN, PATH, /usr/bin/etcd);
# when it is missing and we are root, installs Debian's etcd-server with apt-get; otherwise prints
# the one command that installs it and fails.
set -euo pipefail

found() {
  if [ -n "${ETCD_BIN:-}" ] && [ -x "$ETCD_BIN" ]; then echo "$ETCD_BIN"; return 0; fi
  command -v etcd 2>/dev/null && return 0
  [ -x /usr/bin/etcd ] && { echo /usr/bin/etcd; return 0; }
  return 1
}

if bin=$(found); then
  echo "etcd: $bin ($("$bin" --version 2>/dev/null | head -n1))"
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "etcd: not found; installing Debian's etcd-server with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq etcd-server >/dev/null
  # The package may start a system etcd on 2379; we run our own on free ports and leave it alone.
  bin=$(found) || { echo "etcd: apt-get install etcd-server did not provide an etcd binary" >&2; exit 1; }
  echo "etcd: $bin ($("$bin" --version 2>/dev/null | head -n1))"
  exit 0
fi

echo "etcd: not found. Install it with:  sudo apt-get install -y etcd-server   (or set ETCD_BIN)" >&2
exit 1
