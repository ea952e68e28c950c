#!/usr/bin/env bash
# Builds the SeaweedFS server ("weed") that the integration tests and `make demo` use as a
# local S3 endpoint, once, and caches it under $HOME/.cache/ssecfs. `go install` refuses the
# module because its go.mod has replace directives, so we build inside a writable copy of it.
# Prints the path of the binary on stdout.
set -euo pipefail

WEED_MODULE=github.com/seaweedfs/seaweedfs
WEED_VERSION=${WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
cache=${SSECFS_CACHE:-$HOME/.cache/ssecfs}
bin="$cache/weed-$WEED_VERSION"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
echo "building SeaweedFS $WEED_VERSION (once; about five minutes on two cores)..." >&2
# Run outside our module so the download cannot touch our go.mod or go.sum.
dir=$(cd "$cache" && GOFLAGS= go mod download -json "$WEED_MODULE@$WEED_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "build-weed: could not download $WEED_MODULE@$WEED_VERSION from the Go module proxy" >&2
  exit 1
fi
work=$(mktemp -d "$cache/weed-src.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
(cd "$work" && GOFLAGS=-mod=mod go build -o "$bin.tmp" ./weed)
mv "$bin.tmp" "$bin"
echo "$bin"
