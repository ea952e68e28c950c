package integration

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/integration/s3server"
)

// A reader never sees a mix of two versions: once the object is replaced, reads of the
// open file that need S3 fail with ESTALE; a new open reads the new version whole.
func TestReplacedWhileOpenIsESTALE(t *testing.T) {
	f := newFixture(t)
	v1 := bytes.Repeat([]byte("1"), 6<<20)
	v2 := bytes.Repeat([]byte("2"), 6<<20)
	f.put("doc", v1)
	mp := f.mount()

	file, err := os.Open(filepath.Join(mp, "doc"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	head := make([]byte, 4096)
	if _, err := file.ReadAt(head, 0); err != nil || head[0] != '1' {
		t.Fatalf("first read: %q, %v", head[:1], err)
	}
	f.put("doc", v2)

	tail := make([]byte, 4096)
	n, err := file.ReadAt(tail, 5<<20)
	if !errors.Is(err, syscall.ESTALE) {
		t.Errorf("read of the old open file after replacement: %d bytes %q, %v; want ESTALE", n, tail[:min(n, 1)], err)
	}
	if n > 0 && tail[0] != '1' {
		t.Errorf("the old open file returned bytes of the new version")
	}
	time.Sleep(1100 * time.Millisecond) // the kernel's attribute cache (1 s) learns the new ETag's size
	got, err := os.ReadFile(filepath.Join(mp, "doc"))
	if err != nil || !bytes.Equal(got, v2) {
		t.Errorf("a new open reads %d bytes (%v); want the whole new version", len(got), err)
	}
}

// Decrypted data never touches the local disk: while files are being read, the ssecfs
// process has no regular file open but its log.
func TestNoPlaintextFilesOpen(t *testing.T) {
	f := newFixture(t)
	data := randomBytes(12<<20, 99)
	f.put("big", data)
	logFile := filepath.Join(f.dir, "log")
	mp := f.mount("--log-file", logFile)

	pids := pidsServing(mp)
	if len(pids) != 1 {
		t.Fatalf("found %d processes serving the mount; want 1", len(pids))
	}
	file, err := os.Open(filepath.Join(mp, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < int64(len(data)); off += int64(len(buf)) {
		if _, err := file.ReadAt(buf, off); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		for _, target := range openRegularFiles(t, pids[0]) {
			if target != logFile && !isUploadLog(t, target) {
				t.Errorf("ssecfs has %s open while reading; it must keep plaintext in memory", target)
			}
		}
	}
}

// A server that dies in the middle of reading gives the reader an error, not garbage and
// not a hang; the mount survives and reads again once the server is back.
func TestServerDiesMidRead(t *testing.T) {
	srv := s3server.StartT(t)
	f := newFixtureOn(t, srv)
	// Large enough that the read after the kill lies beyond what read-ahead fetched.
	data := randomBytes(40<<20, 12)
	f.put("file", data)
	mp := f.mount()

	file, err := os.Open(filepath.Join(mp, "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	first := make([]byte, 1<<20)
	if _, err := file.ReadAt(first, 0); err != nil || !bytes.Equal(first, data[:1<<20]) {
		t.Fatalf("first read: %v", err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	later := make([]byte, 1<<20)
	n, err := file.ReadAt(later, 32<<20)
	t.Logf("read with the server down: %d bytes, %v, after %v", n, err, time.Since(start).Round(time.Millisecond))
	if err == nil || n != 0 {
		t.Errorf("read with the server down returned %d bytes and %v; want an error and no bytes", n, err)
	}
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("read with the server down: %v; want EIO", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(mp, "file"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("after the server came back: %d bytes, %v; want the whole file", len(got), err)
	}
}

// pidsServing returns the ssecfs processes whose arguments name mountpoint.
func pidsServing(mountpoint string) []string {
	var pids []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		args := strings.Split(string(b), "\x00")
		if err == nil && len(args) > 0 && filepath.Base(args[0]) == "ssecfs" && strings.Contains(string(b), mountpoint) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}

// openRegularFiles lists the regular files a process has open on real filesystems
// (the Go runtime reads cgroup limits under /sys; /proc and /sys are not disk).
func openRegularFiles(t *testing.T, pid string) []string {
	t.Helper()
	fds, err := filepath.Glob("/proc/" + pid + "/fd/*")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, fd := range fds {
		target, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(target, "/") || hasAnyPrefix(target, "/dev/", "/proc/", "/sys/") {
			continue
		}
		if st, err := os.Stat(target); err == nil && st.Mode().IsRegular() {
			files = append(files, target)
		}
	}
	return files
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isUploadLog reports whether path is a mount's log of uploads in progress (package
// uploadlog), checking that it holds what such a log may: upload IDs, one per line.
func isUploadLog(t *testing.T, path string) bool {
	t.Helper()
	if !strings.Contains(path, "/ssecfs/uploads/") || !strings.HasSuffix(path, ".log") {
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line != "" && line[0] != '+' && line[0] != '-' {
			t.Errorf("upload log %s holds a line that is not an upload ID: %q", path, line)
		}
	}
	return true
}
