#!/usr/bin/env bash
# Installs what `make test` and `make demo` need and a fresh machine lacks:
# fuse3 (fusermount3, for mounting as a non-root user), the Go modules, and the
# SeaweedFS test server (built once, cached under $HOME/.cache/ssecfs).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=""
command -v fusermount3 >/dev/null 2>&1 || missing="$missing fuse3"
# rsync and tar are tools the integration tests drive the mount with.
command -v rsync >/dev/null 2>&1 || missing="$missing rsync"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$missing..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
  else
    echo "missing packages:$missing (sudo apt-get install$missing)" >&2
    exit 1
  fi
fi
if [ ! -e /dev/fuse ]; then
  echo "/dev/fuse is missing: load the fuse kernel module (modprobe fuse), or give the container --device /dev/fuse" >&2
  exit 1
fi
go mod download
scripts/build-weed.sh >/dev/null
