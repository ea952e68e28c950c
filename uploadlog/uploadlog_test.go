package uploadlog

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLiveLogIsNotALeftover(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, "b", "p/")
	if err != nil {
		t.Fatal(err)
	}
	l.Started("u1")
	ids, files, err := Leftovers(dir, "b", "p/")
	if err != nil || len(ids) != 0 || len(files) != 0 {
		t.Fatalf("a live mount's log taken for a leftover: %v %v %v", ids, files, err)
	}
	l.Ended("u1")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 0 {
		t.Fatalf("a clean close with nothing open left %v", names)
	}
}

// A log whose process died (its lock is free) gives the uploads it left open, and only
// for its own bucket and prefix.
func TestDeadProcessLeavesItsOpenUploads(t *testing.T) {
	dir := t.TempDir()
	// A log written as a crashed process leaves it: no lock held.
	name := filepath.Join(dir, base("b", "p/")+".999999.log")
	if err := os.WriteFile(name, []byte("+u1\n+u2\n-u1\n+u3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ids, files, err := Leftovers(dir, "b", "p/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || !ids["u2"] || !ids["u3"] || len(files) != 1 {
		t.Fatalf("leftovers = %v, %v; want u2 and u3 from one file", ids, files)
	}
	if other, _, _ := Leftovers(dir, "b", "q/"); len(other) != 0 {
		t.Fatalf("another prefix's mount sees %v", other)
	}
	Forget(files)
	if ids, _, _ := Leftovers(dir, "b", "p/"); len(ids) != 0 {
		t.Fatalf("after Forget: %v", ids)
	}
}

// The lock is what tells a live mount from a dead one: a child process holding its log
// is live; killed, its log is a leftover.
func TestLockTellsLiveFromDead(t *testing.T) {
	if os.Getenv("UPLOADLOG_CHILD") != "" {
		l, err := Open(os.Getenv("UPLOADLOG_DIR"), "b", "")
		if err != nil {
			os.Exit(2)
		}
		l.Started("child-upload")
		os.Stdout.WriteString("ready\n")
		select {} // until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockTellsLiveFromDead$")
	cmd.Env = append(os.Environ(), "UPLOADLOG_CHILD=1", "UPLOADLOG_DIR="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf), "ready") {
		cmd.Process.Kill()
		t.Fatalf("child: %q %v", buf, err)
	}
	if ids, _, _ := Leftovers(dir, "b", ""); len(ids) != 0 {
		t.Errorf("a live process's log (pid %d) taken for a leftover: %v", cmd.Process.Pid, ids)
	}
	cmd.Process.Kill()
	cmd.Wait()
	ids, files, _ := Leftovers(dir, "b", "")
	if !ids["child-upload"] || len(files) != 1 || !strings.Contains(files[0], strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("after kill -9: %v %v; want the child's upload", ids, files)
	}
	st, err := os.Stat(files[0])
	if err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", st.Mode().Perm())
	}
}

func TestCompactionKeepsLiveUploads(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, "b", "")
	if err != nil {
		t.Fatal(err)
	}
	l.Started("keep")
	for i := range 2*compactAfter + 5 {
		id := "u" + strconv.Itoa(i)
		l.Started(id)
		l.Ended(id)
	}
	data, err := os.ReadFile(l.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(data), "\n"); lines > compactAfter*2+10 || !strings.Contains(string(data), "+keep\n") {
		t.Fatalf("after %d uploads the log has %d lines, keep present: %v", 2*compactAfter, lines, strings.Contains(string(data), "+keep\n"))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
