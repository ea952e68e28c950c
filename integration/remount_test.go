package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// mountsAt counts the mounts on dir in /proc/self/mountinfo (stacked ones each count).
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	unescape := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && unescape.Replace(fields[4]) == dir {
			n++
		}
	}
	return n
}

// After the ssecfs process is killed (kill -9, a crash), its mount stays behind, dead:
// the kernel answers ENOTCONN, or for a second still answers stat from its cache. A new
// mount at once on the same directory clears it, says so, and is the only mount there.
func TestRemountAfterKill9(t *testing.T) {
	f := newFixture(t)
	f.put("before", []byte("before the crash\n"))
	mp := f.mount()
	if got, err := os.ReadFile(filepath.Join(mp, "before")); err != nil || string(got) != "before the crash\n" {
		t.Fatalf("first mount: %q, %v", got, err)
	}
	pids := pidsServing(mp)
	if len(pids) != 1 {
		t.Fatalf("processes serving %s: %v, want one", mp, pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	out, code := f.ssecfs(nil, append(append([]string{"mount"}, f.mountArgs()...), f.bucket, mp)...)
	t.Logf("second mount took %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	if code != 0 {
		t.Fatalf("mounting again after kill -9 exited %d:\n%s", code, out)
	}
	if !strings.Contains(out, "cleared a dead FUSE mount") || strings.Count(out, "cleared a dead FUSE mount") != 1 {
		t.Errorf("the second mount does not say, once, that it cleared the dead one:\n%s", out)
	}
	if n := mountsAt(t, mp); n != 1 {
		t.Fatalf("%d mounts on %s after mounting again, want exactly one", n, mp)
	}
	if got := pidsServing(mp); len(got) != 1 || got[0] == pids[0] {
		t.Errorf("processes serving %s: %v, want one new one (the killed one was %s)", mp, got, pids[0])
	}

	data := randomBytes(300<<10, 61)
	f.put("after", data)
	if got, err := os.ReadFile(filepath.Join(mp, "after")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("a file put after the remount reads back as %d bytes, %v; want the %d written", len(got), err, len(data))
	}
	if got, err := os.ReadFile(filepath.Join(mp, "before")); err != nil || string(got) != "before the crash\n" {
		t.Errorf("the file from before the crash: %q, %v", got, err)
	}
}

// A live mount is never mounted over: the second mount fails, says why, and leaves the
// first one serving alone.
func TestMountOnLiveMountIsRefused(t *testing.T) {
	f := newFixture(t)
	f.put("x", []byte("x\n"))
	mp := f.mount()
	out, code := f.ssecfs(nil, append(append([]string{"mount"}, f.mountArgs()...), f.bucket, mp)...)
	if code == 0 {
		t.Errorf("mounting on a live mount succeeded:\n%s", out)
	}
	if !strings.Contains(out, "already mounted") || !strings.Contains(out, "unmount it first") {
		t.Errorf("the refusal does not say the directory is already mounted:\n%s", out)
	}
	if n := mountsAt(t, mp); n != 1 {
		t.Errorf("%d mounts on %s, want the first one only", n, mp)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "x")); err != nil || string(got) != "x\n" {
		t.Errorf("the first mount after the refusal: %q, %v", got, err)
	}
}

// After kill -9 in the middle of a large write, the multipart upload the dead mount had
// open is aborted by the next mount of the same bucket; an upload another tool has open
// is left alone.
func TestRemountAbortsTheUploadsOfAKilledMount(t *testing.T) {
	f := newFixture(t)
	// Another tool's upload in progress, which must survive.
	alg, key, md := sseC(f.key)
	theirs, err := f.s3.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{
		Bucket: aws.String(f.bucket), Key: aws.String("theirs.bin"),
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: md,
	})
	if err != nil {
		t.Fatal(err)
	}
	mp := f.mount("--part-size", "5MiB", "--write-buffer", "16MiB")
	// Write-only, as cp writes: such a file streams its parts while it is written.
	w, err := os.OpenFile(filepath.Join(mp, "big.bin"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(randomBytes(24*wpMiB, 91)); err != nil {
		t.Fatal(err)
	}
	// Wait until the streamed parts have begun our upload.
	waitFor(t, 30*time.Second, func() bool { return len(wpUploads(t, f, "big.bin")) == 1 }, "the mount's upload of big.bin to begin")
	pids := pidsServing(mp)
	if len(pids) != 1 {
		t.Fatalf("processes serving %s: %v, want one", mp, pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if ups := wpUploads(t, f, "big.bin"); len(ups) != 1 {
		t.Fatalf("after kill -9: uploads of big.bin %v, want the dead mount's one", wpUploadIDs(ups))
	}

	out, code := f.ssecfs(nil, append(append([]string{"mount"}, f.mountArgs()...), f.bucket, mp)...)
	if code != 0 {
		t.Fatalf("mounting again: exit %d\n%s", code, out)
	}
	t.Cleanup(func() { unmount(t, mp) })
	waitFor(t, 30*time.Second, func() bool { return len(wpUploads(t, f, "big.bin")) == 0 }, "the next mount to abort the dead mount's upload")
	ups := wpUploads(t, f, "theirs.bin")
	if len(ups) != 1 || aws.ToString(ups[0].UploadId) != aws.ToString(theirs.UploadId) {
		t.Errorf("another tool's upload: %v; want it left open", wpUploadIDs(ups))
	}
	if _, err := os.Stat(filepath.Join(mp, "big.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("big.bin after the crash: %v; want no such file (nothing was completed)", err)
	}
}
