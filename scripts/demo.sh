#!/usr/bin/env bash
# make demo: start a local S3 server over TLS, make a key, write a few SSE-C objects
# with the AWS SDK, mount the bucket at ./mnt and show it working. Stays until Ctrl-C,
# then unmounts and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

demo=$PWD/.demo
mnt=$PWD/mnt
mkdir -p "$demo" "$mnt"
if mountpoint -q "$mnt" 2>/dev/null; then
  echo "demo: $mnt is already mounted (an earlier demo?): run umount $mnt first" >&2
  exit 1
fi
go build -o bin/s3server ./integration/s3server/cmd/s3server

# A fresh key and a fresh server each time. The key file is 0600, as ssecfs demands.
rm -rf "$demo/s3" "$demo/env" "$demo/key"
(umask 077 && head -c 32 /dev/urandom | base64 > "$demo/key")

echo "== starting a local S3 server (SeaweedFS) over TLS..."
bin/s3server -dir "$demo/s3" -bucket demo -env-file "$demo/env" -seed "$demo/key" >"$demo/s3server.log" 2>&1 &
server=$!
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "== unmounting and stopping the server"
  umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt" 2>/dev/null || true
  kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

for _ in $(seq 1 180); do
  [ -s "$demo/env" ] && break
  kill -0 "$server" 2>/dev/null || { echo "demo: the S3 server failed to start:" >&2; cat "$demo/s3server.log" >&2; exit 1; }
  sleep 0.5
done
[ -s "$demo/env" ] || { echo "demo: the S3 server did not come up in 90 s" >&2; exit 1; }
# shellcheck disable=SC1091
. "$demo/env"

echo "== mounting bucket 'demo' at ./mnt"
echo "\$ ssecfs mount --ca-bundle .demo/s3/ca.pem --key-file .demo/key demo ./mnt"
bin/ssecfs mount --ca-bundle "$SSECFS_CA_BUNDLE" --key-file "$demo/key" --log-file "$demo/ssecfs.log" demo "$mnt"

show() { echo; echo "\$ $*"; "$@"; }
show ls -lR mnt
show cat mnt/hello.txt
show head -3 mnt/data/squares.csv
show sha256sum mnt/data/random-20MiB.bin
show df -h mnt
echo; echo '$ echo "written through the mount" > mnt/notes.txt'
echo "written through the mount" > mnt/notes.txt
show mv mnt/notes.txt mnt/reports/notes.txt
show cat mnt/reports/notes.txt
show ls -l mnt/reports
echo
echo "Mounted at ./mnt. Try it from another shell; press Ctrl-C here to unmount and stop."
while kill -0 "$server" 2>/dev/null && mountpoint -q "$mnt"; do sleep 1; done
