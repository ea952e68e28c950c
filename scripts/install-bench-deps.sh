#!/usr/bin/env bash
# Installs what `make bench` needs besides `make deps`: the peers ssecfs is compared with,
# s3fs and rclone (Debian packages). As root it installs them with apt-get; otherwise it
# says what to install and fails.
set -euo pipefail

missing=""
command -v s3fs >/dev/null 2>&1 || missing="$missing s3fs"
command -v rclone >/dev/null 2>&1 || missing="$missing rclone"
if [ -z "$missing" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing$missing..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
else
  echo "missing packages:$missing (sudo apt-get install$missing)" >&2
  exit 1
fi
