package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
