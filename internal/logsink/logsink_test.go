package logsink

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func newLogger(t *testing.T, s *Sink, format string, level slog.Level) *slog.Logger {
	t.Helper()
	h, err := s.Handler(format, level)
	if err != nil {
		t.Fatal(err)
	}
	return slog.New(h)
}

// logrotate moves the file away and sends SIGHUP: lines until the reopen stay in the
// moved file, lines after it go to a new file at the path.
func TestFileReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ssecfs.log")
	s, err := Open(Options{File: path, Background: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Kind() != File || s.Where() != path || s.Fallback() != nil {
		t.Fatalf("sink %v %q %v, want the file %s", s.Kind(), s.Where(), s.Fallback(), path)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("log file mode %o, want 600", m)
	}
	log := newLogger(t, s, "text", slog.LevelInfo)
	log.Info("one")
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	log.Info("two") // still the open file, now named .1
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("three")

	old, cur := readLines(t, rotated), readLines(t, path)
	if len(old) != 2 || !strings.Contains(old[0], "msg=one") || !strings.Contains(old[1], "msg=two") {
		t.Errorf("rotated file holds %q, want one and two", old)
	}
	if len(cur) != 1 || !strings.Contains(cur[0], "msg=three") || !strings.Contains(cur[0], "level=INFO") || !strings.HasPrefix(cur[0], "time=") {
		t.Errorf("new file holds %q, want three with its time and level", cur)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("reopened log file mode %o, want 600", m)
	}
}

// Reopening while other goroutines log loses and tears no line.
func TestReopenWhileLogging(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ssecfs.log")
	s, err := Open(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	log := newLogger(t, s, "json", slog.LevelInfo)

	const writers, each, rotations = 4, 200, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				log.Info("line", "w", w, "i", i)
			}
		}()
	}
	for r := range rotations {
		time.Sleep(time.Millisecond)
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, r)); err != nil {
			t.Fatal(err)
		}
		if err := s.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	s.Close()

	seen := map[string]bool{}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		for _, line := range readLines(t, f) {
			var rec struct {
				Msg  string
				W, I int
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Msg != "line" {
				t.Fatalf("%s: torn line %q: %v", f, line, err)
			}
			seen[fmt.Sprint(rec.W, rec.I)] = true
		}
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct lines over %d files, want %d", len(seen), len(files), writers*each)
	}
}

// A failed reopen keeps the old file.
func TestReopenFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	path := filepath.Join(sub, "ssecfs.log")
	s, err := Open(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := newLogger(t, s, "text", slog.LevelInfo)
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(sub, moved); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err == nil {
		t.Fatal("reopen in a missing directory succeeded")
	}
	log.Info("after")
	if lines := readLines(t, filepath.Join(moved, "ssecfs.log")); len(lines) != 1 || !strings.Contains(lines[0], "msg=after") {
		t.Errorf("old file holds %q, want the line logged after the failed reopen", lines)
	}
}

func TestJSONToFileParses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ssecfs.log")
	s, err := Open(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := newLogger(t, s, "json", slog.LevelDebug)
	log.Debug("fetched", "key", "a b\nc", "n", 3)
	log.With("mount", "/mnt").WithGroup("req").Warn("slow", "ms", 2500)
	lines := readLines(t, path)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), lines)
	}
	var a, b map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &a); err != nil {
		t.Fatalf("%q: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &b); err != nil {
		t.Fatalf("%q: %v", lines[1], err)
	}
	if a["msg"] != "fetched" || a["level"] != "DEBUG" || a["key"] != "a b\nc" || a["time"] == nil {
		t.Errorf("first record %v", a)
	}
	if b["level"] != "WARN" || b["mount"] != "/mnt" || b["req"].(map[string]any)["ms"] != 2500.0 {
		t.Errorf("second record %v", b)
	}
}

func TestBadFormatRefused(t *testing.T) {
	s, err := Open(Options{Stderr: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"xml", "JSON", " text"} {
		_, err := s.Handler(f, slog.LevelInfo)
		want := fmt.Sprintf("--log-format %q: want text or json", f)
		if err == nil || err.Error() != want {
			t.Errorf("Handler(%q): %v, want %s", f, err, want)
		}
		if err := CheckFormat(f); err == nil || err.Error() != want {
			t.Errorf("CheckFormat(%q): %v, want %s", f, err, want)
		}
	}
	for _, f := range []string{"", "text", "json"} {
		if _, err := s.Handler(f, slog.LevelInfo); err != nil {
			t.Errorf("Handler(%q): %v", f, err)
		}
	}
}

func TestForegroundStderr(t *testing.T) {
	var b strings.Builder
	s, err := Open(Options{Stderr: &b, SyslogPath: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != Stderr || s.Where() != "stderr" {
		t.Fatalf("sink %v %q, want stderr", s.Kind(), s.Where())
	}
	newLogger(t, s, "text", slog.LevelInfo).Info("hello", "n", 1)
	if !strings.HasPrefix(b.String(), "time=") || !strings.HasSuffix(b.String(), "level=INFO msg=hello n=1\n") {
		t.Errorf("stderr got %q", b.String())
	}
}

// Without /dev/log, a background mount logs to a 0600 file in a 0700 directory.
func TestFallbackFileWithoutSyslog(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state", "ssecfs")
	s, err := Open(Options{Background: true, Name: "/home/u/my s3", SyslogPath: filepath.Join(dir, "no-log"), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := filepath.Join(state, "mount-home-u-my_s3.log")
	if s.Kind() != File || s.Where() != want {
		t.Fatalf("sink %v %q, want the file %s", s.Kind(), s.Where(), want)
	}
	if s.Fallback() == nil || !strings.Contains(s.Fallback().Error(), "no-log") {
		t.Errorf("Fallback() = %v, want why the socket was not used", s.Fallback())
	}
	if m := mode(t, state); m != 0o700 {
		t.Errorf("state directory mode %o, want 700", m)
	}
	if m := mode(t, want); m != 0o600 {
		t.Errorf("fallback file mode %o, want 600", m)
	}
	newLogger(t, s, "text", slog.LevelInfo).Warn("kept")
	if lines := readLines(t, want); len(lines) != 1 || !strings.Contains(lines[0], "level=WARN msg=kept") {
		t.Errorf("fallback file holds %q", lines)
	}
}

// A path that exists but where nobody listens (a stale socket, a plain file) falls back
// too.
func TestFallbackWhenSyslogRefuses(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	os.WriteFile(sock, nil, 0o600)
	s, err := Open(Options{Background: true, Name: "/mnt", SyslogPath: sock, StateDir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Kind() != File || s.Fallback() == nil {
		t.Fatalf("sink %v, fallback %v: want the fallback file", s.Kind(), s.Fallback())
	}
}

func TestFallbackDefaultDirAndMode(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg"))
	state := filepath.Join(dir, "xdg", "ssecfs")
	os.MkdirAll(state, 0o700)
	old := filepath.Join(state, "mount-mnt.log")
	os.WriteFile(old, []byte("before\n"), 0o644)
	s, err := Open(Options{Background: true, Name: "/mnt", SyslogPath: filepath.Join(dir, "none")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Where() != old {
		t.Fatalf("fallback at %q, want %s", s.Where(), old)
	}
	if m := mode(t, old); m != 0o600 {
		t.Errorf("an older fallback file stays mode %o, want 600", m)
	}
	newLogger(t, s, "text", slog.LevelInfo).Info("after")
	if lines := readLines(t, old); len(lines) != 2 || lines[0] != "before" {
		t.Errorf("fallback file holds %q, want the old line kept and the new appended", lines)
	}

	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", filepath.Join(dir, "home"))
	if d, err := DefaultStateDir(); err != nil || d != filepath.Join(dir, "home", ".local", "state", "ssecfs") {
		t.Errorf("DefaultStateDir() = %q, %v", d, err)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"/home/u/s3":                     "home-u-s3",
		"/mnt/":                          "mnt",
		"relative/dir":                   "relative-dir",
		"":                               "root",
		"/":                              "root",
		"/a/../b":                        "b",
		"/a b/c*d\n":                     "a_b-c_d_",
		"/ünï":                           "__n__",
		"/x/" + strings.Repeat("y", 200): strings.Repeat("y", maxNameLen),
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// syslogListener is a fake /dev/log.
type syslogListener struct {
	t    *testing.T
	path string
	conn *net.UnixConn
}

func listenSyslog(t *testing.T, path string) *syslogListener {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l := &syslogListener{t: t, path: path, conn: c}
	t.Cleanup(func() { c.Close() })
	return l
}

// shortDir is a directory whose socket paths fit in sun_path's 108 bytes.
func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "logsink")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

var syslogLine = regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ssecfs\[(\d+)\]: (.*)$`)

// next reads one datagram and returns its priority and message.
func (l *syslogListener) next() (int, string) {
	l.t.Helper()
	buf := make([]byte, 65536)
	l.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := l.conn.Read(buf)
	if err != nil {
		l.t.Fatalf("reading the fake syslog: %v", err)
	}
	m := syslogLine.FindStringSubmatch(string(buf[:n]))
	if m == nil {
		l.t.Fatalf("datagram %q is not a syslog line", buf[:n])
	}
	if m[2] != strconv.Itoa(os.Getpid()) {
		l.t.Errorf("datagram %q: pid %s, want %d", buf[:n], m[2], os.Getpid())
	}
	pri, _ := strconv.Atoi(m[1])
	return pri, m[3]
}

func openSyslog(t *testing.T, path string) *Sink {
	t.Helper()
	s, err := Open(Options{Background: true, Name: "/mnt", SyslogPath: path, StateDir: filepath.Join(filepath.Dir(path), "state")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Kind() != Syslog || s.Fallback() != nil {
		t.Fatalf("sink %v %q (%v), want syslog", s.Kind(), s.Where(), s.Fallback())
	}
	if want := "syslog (" + path + ") as ssecfs"; s.Where() != want {
		t.Errorf("Where() = %q, want %q", s.Where(), want)
	}
	return s
}

// Each record reaches syslog with its own priority (facility daemon, 3), tagged ssecfs,
// without the time and level in its text.
func TestSyslogPriorities(t *testing.T) {
	path := filepath.Join(shortDir(t), "log")
	l := listenSyslog(t, path)
	log := newLogger(t, openSyslog(t, path), "text", slog.LevelDebug-4)

	log.Debug("fetching", "n", 1)
	log.Info("mounted", "bucket", "b", "mountpoint", "/mnt")
	log.Warn("could not lock the page cache", "err", "EPERM")
	log.Error("upload failed", "name", "a b.txt")
	log.Log(t.Context(), slog.LevelError+4, "worse")
	log.Log(t.Context(), slog.LevelDebug-4, "finer")
	log.With("mount", "/mnt").WithGroup("req").Info("", "op", "read")
	for _, want := range []struct {
		pri int
		msg string
	}{
		{3<<3 | 7, "fetching n=1"},
		{3<<3 | 6, "mounted bucket=b mountpoint=/mnt"},
		{3<<3 | 4, "could not lock the page cache err=EPERM"},
		{3<<3 | 3, `upload failed name="a b.txt"`},
		{3<<3 | 3, "worse"},
		{3<<3 | 7, "finer"},
		{3<<3 | 6, "mount=/mnt req.op=read"},
	} {
		pri, msg := l.next()
		if pri != want.pri || msg != want.msg {
			t.Errorf("got <%d> %q, want <%d> %q", pri, msg, want.pri, want.msg)
		}
	}
}

func TestSyslogLevelFilter(t *testing.T) {
	path := filepath.Join(shortDir(t), "log")
	l := listenSyslog(t, path)
	log := newLogger(t, openSyslog(t, path), "text", slog.LevelWarn)
	log.Info("not sent")
	log.Warn("sent")
	if pri, msg := l.next(); pri != 28 || msg != "sent" {
		t.Errorf("got <%d> %q, want <28> sent", pri, msg)
	}
}

func TestSyslogJSON(t *testing.T) {
	path := filepath.Join(shortDir(t), "log")
	l := listenSyslog(t, path)
	log := newLogger(t, openSyslog(t, path), "json", slog.LevelInfo)
	log.Warn("slow", "ms", 2500, "name", "a\nb")
	pri, msg := l.next()
	var rec map[string]any
	if err := json.Unmarshal([]byte(msg), &rec); err != nil {
		t.Fatalf("syslog body %q is not JSON: %v", msg, err)
	}
	if pri != 28 || rec["msg"] != "slow" || rec["ms"] != 2500.0 || rec["name"] != "a\nb" {
		t.Errorf("got <%d> %v", pri, rec)
	}
	if _, ok := rec["time"]; ok {
		t.Errorf("json body %q repeats the time", msg)
	}
	if _, ok := rec["level"]; ok {
		t.Errorf("json body %q repeats the level", msg)
	}
}

// When the syslog daemon restarts (a new socket at the same path), the next record
// redials; records that could not be sent at all are counted and the count logged.
func TestSyslogRedialAndDropCount(t *testing.T) {
	path := filepath.Join(shortDir(t), "log")
	l := listenSyslog(t, path)
	log := newLogger(t, openSyslog(t, path), "text", slog.LevelInfo)
	log.Info("first")
	if _, msg := l.next(); msg != "first" {
		t.Fatalf("got %q", msg)
	}

	l.conn.Close()
	os.Remove(path)
	log.Info("lost") // nobody listens
	l = listenSyslog(t, path)
	log.Info("second")
	pri, msg := l.next()
	if pri != 28 || !strings.Contains(msg, "1 log records could not be sent to syslog") {
		t.Errorf("got <%d> %q, want the count of lost records", pri, msg)
	}
	if _, msg := l.next(); msg != "second" {
		t.Errorf("got %q, want second", msg)
	}
}

func TestSyslogReopenRedials(t *testing.T) {
	path := filepath.Join(shortDir(t), "log")
	l := listenSyslog(t, path)
	s := openSyslog(t, path)
	log := newLogger(t, s, "text", slog.LevelInfo)
	l.conn.Close()
	os.Remove(path)
	l = listenSyslog(t, path)
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("after")
	if _, msg := l.next(); msg != "after" {
		t.Errorf("got %q", msg)
	}
	s.Close()
	log.Info("closed") // dropped, and no panic
	if err := s.Reopen(); err == nil {
		t.Error("Reopen after Close succeeded")
	}
}

// Under systemd, stderr is a journald stream: lines carry "<N>" and no time or level.
func TestJournalStream(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	s, err := Open(Options{Stderr: f})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != Journal {
		t.Fatalf("sink %v, want journal", s.Kind())
	}
	log := newLogger(t, s, "text", slog.LevelDebug)
	log.Info("mounted", "bucket", "b")
	log.Error("two\nlines", "n", 2)
	log.Debug("d")
	b, _ := os.ReadFile(f.Name())
	want := "<6>mounted bucket=b\n<3>msg=\"two\\nlines\" n=2\n<7>d\n"
	if string(b) != want {
		t.Errorf("journal stream got %q, want %q", b, want)
	}

	// Another descriptor is not the journal stream.
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1))
	if s, _ := Open(Options{Stderr: f}); s.Kind() != Stderr {
		t.Errorf("sink %v for a stream that is not the journal's", s.Kind())
	}
}

func TestPlainMessage(t *testing.T) {
	for in, want := range map[string]string{
		`msg=hello`:               `hello`,
		`msg=hello a=1`:           `hello a=1`,
		`msg="a b" k="x y"`:       `a b k="x y"`,
		`msg="" k=v`:              `k=v`,
		`msg="say \"hi\"" k=v`:    `say "hi" k=v`,
		`msg="a\nb" k=v`:          `msg="a\nb" k=v`,
		`msg="\xff" k=v`:          `msg="\xff" k=v`,
		`msg="unterminated`:       `msg="unterminated`,
		`k=v`:                     `k=v`,
		`msg="ünï=ok" g.k=v`:      `ünï=ok g.k=v`,
		`msg="tab\there" path=/x`: `msg="tab\there" path=/x`,
	} {
		if got := string(plainMessage([]byte(in))); got != want {
			t.Errorf("plainMessage(%s) = %s, want %s", in, got, want)
		}
	}
}

// A syslog daemon that stops reading costs each record at most sendTimeout, and the
// records it did not take are counted.
func TestSyslogStuckDaemonDoesNotStall(t *testing.T) {
	defer func(d time.Duration) { sendTimeout = d }(sendTimeout)
	sendTimeout = 50 * time.Millisecond
	path := filepath.Join(shortDir(t), "log")
	l := listenSyslog(t, path) // never read until the end
	s := openSyslog(t, path)
	log := newLogger(t, s, "text", slog.LevelInfo)
	body := strings.Repeat("x", 4096)
	start := time.Now()
	for s.syslog.dropped == 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the socket's queue never filled")
		}
		log.Info(body)
	}
	t0 := time.Now()
	log.Info(body)
	if d := time.Since(t0); d > 10*sendTimeout {
		t.Errorf("a record waited %v for a stuck daemon, want about %v", d, sendTimeout)
	}
	if s.syslog.dropped != 2 {
		t.Errorf("%d records counted as dropped, want 2", s.syslog.dropped)
	}
	// The daemon reads again: the count comes first.
	l.conn.SetReadBuffer(1 << 20)
	buf := make([]byte, 65536)
	for {
		l.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := l.conn.Read(buf); err != nil {
			break
		}
	}
	log.Info("back")
	if pri, msg := l.next(); pri != 28 || !strings.HasPrefix(msg, "2 log records could not be sent") {
		t.Errorf("got <%d> %q, want the count of dropped records", pri, msg)
	}
	if _, msg := l.next(); msg != "back" {
		t.Errorf("got %q, want back", msg)
	}
}
