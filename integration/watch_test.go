package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What an operator watches: systemd's notify socket, logs (reopened on SIGHUP, found
// without --log-file), Prometheus metrics and the key-usage audit log.

// mountPID finds the process serving the mount at mp, by its command line.
func mountPID(t *testing.T, mp string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && filepath.Base(args[0]) == "ssecfs" && slices.Contains(args, mp) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	t.Fatalf("no ssecfs process serves %s", mp)
	return 0
}

// pollUntil polls cond for up to d; it reports whether cond became true.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// TestWatchNotifySocket runs a foreground mount as a Type=notify unit would: READY=1
// must arrive on NOTIFY_SOCKET once the mount is live (never before), STOPPING=1 when
// it unmounts, and the process must end with 0.
func TestWatchNotifySocket(t *testing.T) {
	f := newFixture(t)
	f.put("hello", []byte("hello\n"))
	sockPath := filepath.Join(f.dir, "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	mp := f.newMountpoint("mnt")
	raceLog := filepath.Join(f.dir, "race-notify")
	t.Cleanup(func() { checkRaceReports(t, raceLog) })
	cmd := exec.Command(ssecfsBin, append(append([]string{"mount", "--foreground"}, f.mountArgs()...), f.bucket, mp)...)
	cmd.Env = append(append(cleanEnv(), f.srv.Env()...), "NOTIFY_SOCKET="+sockPath, "GORACE=log_path="+raceLog)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()

	read := func() string {
		sock.SetReadDeadline(time.Now().Add(90 * time.Second))
		buf := make([]byte, 4096)
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("no message on NOTIFY_SOCKET: %v\nstderr:\n%s", err, stderr.String())
		}
		return string(buf[:n])
	}
	if msg := read(); msg != "READY=1" {
		t.Fatalf("first message = %q, want READY=1", msg)
	}
	if !isMounted(mp) {
		t.Fatal("READY=1 came before the mount was live")
	}
	if got, err := os.ReadFile(filepath.Join(mp, "hello")); err != nil || string(got) != "hello\n" {
		t.Errorf("read through the mount: %q, %v", got, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if msg := read(); msg != "STOPPING=1" {
		t.Errorf("message after SIGTERM = %q, want STOPPING=1", msg)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the mount exited with %v after SIGTERM\nstderr:\n%s", err, stderr.String())
		}
		exited <- nil
	case <-time.After(60 * time.Second):
		t.Fatal("the mount did not exit after SIGTERM")
	}
	if isMounted(mp) {
		t.Error("still mounted after SIGTERM")
	}
}

// TestWatchSIGHUPReopensTheLog does what logrotate does: move the log file away, send
// SIGHUP. The mount must live on, keep serving files, and write its next lines to a new
// file at the same path, while the moved one keeps the old lines.
func TestWatchSIGHUPReopensTheLog(t *testing.T) {
	f := newFixture(t)
	f.put("a", []byte("first\n"))
	logFile := filepath.Join(f.dir, "ssecfs.log")
	mp := f.mount("--log-file", logFile)
	pid := mountPID(t, mp)
	// A listing cached before the SIGHUP, which does not show b yet.
	if entries, err := os.ReadDir(mp); err != nil || len(entries) != 1 {
		t.Fatalf("listing: %v, %v", entries, err)
	}
	f.put("b", []byte("second\n"))
	rotated := logFile + ".1"
	if err := os.Rename(logFile, rotated); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // SIGHUP, more than once: never fatal
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !pollUntil(20*time.Second, func() bool {
			b, _ := os.ReadFile(logFile)
			return strings.Count(string(b), "logs reopened") > i
		}) {
			t.Fatalf("after SIGHUP %d, %s has no new line", i+1, logFile)
		}
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the mount process is gone after SIGHUP: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "a")); err != nil || string(got) != "first\n" {
		t.Errorf("read after SIGHUP: %q, %v", got, err)
	}
	// The cached listing (which would answer "no b" for a minute) was dropped.
	if got, err := os.ReadFile(filepath.Join(mp, "b")); err != nil || string(got) != "second\n" {
		t.Errorf("an object put before the SIGHUP, after the listing was cached: %q, %v", got, err)
	}
	old, _ := os.ReadFile(rotated)
	if !strings.Contains(string(old), "msg=mounted") || strings.Contains(string(old), "logs reopened") {
		t.Errorf("the rotated log should hold the mount's lines and none after SIGHUP:\n%s", old)
	}
	st, err := os.Stat(logFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the reopened log: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
}

// TestWatchBackgroundLogWithoutLogFile mounts in the background without --log-file:
// the mount must say where it logs, and its lines must be there (syslog where there is
// a /dev/log, else a 0600 file under $XDG_STATE_HOME/ssecfs).
func TestWatchBackgroundLogWithoutLogFile(t *testing.T) {
	f := newFixture(t)
	state := filepath.Join(f.dir, "state")
	mp := f.newMountpoint("mnt")
	raceLog := filepath.Join(f.dir, "race-bglog")
	t.Cleanup(func() { checkRaceReports(t, raceLog) })
	out, code := f.ssecfs([]string{"XDG_STATE_HOME=" + state, "GORACE=log_path=" + raceLog},
		append(append([]string{"mount"}, f.mountArgs()...), f.bucket, mp)...)
	if code != 0 {
		t.Fatalf("mount exited %d:\n%s", code, out)
	}
	m := regexp.MustCompile(`log="?([^" \n]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the mount did not say where it logs:\n%s", out)
	}
	where := m[1]
	if _, err := os.Stat("/dev/log"); err == nil {
		if !strings.Contains(out, "syslog") {
			t.Errorf("with /dev/log present the mount should log to syslog; it said %q", where)
		}
		return // syslog's own store is not ours to read
	}
	if !strings.HasPrefix(where, filepath.Join(state, "ssecfs")+"/") {
		t.Fatalf("without /dev/log the log should be under %s/ssecfs; the mount said %q:\n%s", state, where, out)
	}
	os.ReadDir(mp) // something to do
	unmount(t, mp) // and the unmount is logged
	if !pollUntil(20*time.Second, func() bool {
		b, _ := os.ReadFile(where)
		return strings.Contains(string(b), "unmounted")
	}) {
		b, _ := os.ReadFile(where)
		t.Fatalf("%s lacks the mount's lines:\n%s", where, b)
	}
	b, _ := os.ReadFile(where)
	if !strings.Contains(string(b), "mounted") {
		t.Errorf("%s lacks the mounted line:\n%s", where, b)
	}
	if st, err := os.Stat(where); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", where, err, st.Mode().Perm())
	}
}

// freePort is a loopback TCP port free at the time of the call.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape reads the metrics at addr into name{labels} -> value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestWatchMetrics reads a file through a mount with --metrics-addr and sees the S3
// request, byte and cache counters move, with no key anywhere in the exposition.
func TestWatchMetrics(t *testing.T) {
	f := newFixture(t)
	data := randomBytes(8<<20, 7)
	f.put("big", data)
	addr := freePort(t)
	mp := f.mount("--metrics-addr", addr)
	before := scrape(t, addr)
	got, err := os.ReadFile(filepath.Join(mp, "big"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("read through the mount: %d bytes, %v", len(got), err)
	}
	after := scrape(t, addr)
	moved := func(name string) float64 { return after[name] - before[name] }
	if d := moved(`ssecfs_s3_requests_total{op="GetObject",outcome="ok"}`); d < 1 {
		t.Errorf("GetObject ok requests moved by %v, want at least 1", d)
	}
	if d := moved(`ssecfs_s3_received_bytes_total{op="GetObject"}`); d < float64(len(data)) {
		t.Errorf("bytes received moved by %v, want at least %d", d, len(data))
	}
	if d := moved(`ssecfs_cache_misses_total`) + moved(`ssecfs_cache_hits_total`); d < 1 {
		t.Errorf("cache hits+misses moved by %v, want at least 1", d)
	}
	if after[`ssecfs_cache_bytes`] < 1 {
		t.Errorf("cache bytes held = %v after a read", after[`ssecfs_cache_bytes`])
	}
	if d := moved(`ssecfs_fuse_operations_total{errno="OK",op="read"}`); d < 1 {
		t.Errorf("FUSE read operations moved by %v", d)
	}
	for name := range after {
		if strings.Contains(name, f.key.Base64()) || strings.Contains(name, f.key.Fingerprint()) {
			t.Errorf("a metric carries key material: %s", name)
		}
	}
}

// TestWatchAuditLogNamesUsersAndProcesses reads and writes as root and as nobody: every
// keyed request is a line naming the key's fingerprint (never the key), the object, and
// the uid and pid of the process whose file operation caused it.
func TestWatchAuditLogNamesUsersAndProcesses(t *testing.T) {
	f := newFixture(t)
	f.put("shared", []byte("for everyone\n"))
	// The test's directories are 0700: nobody must reach the mount point.
	for _, d := range []string{filepath.Dir(f.dir), f.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	auditFile := filepath.Join(f.dir, "audit.log")
	mp := f.mount("--allow-other", "--audit-log", auditFile)
	if err := os.Mkdir(filepath.Join(mp, "drop"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(mp, "drop"), 0o777); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	run := func(uid uint32, name string, args ...string) int {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v as uid %d: %v\n%s", name, args, uid, err, out)
		}
		return cmd.Process.Pid
	}
	catPID := run(nobody, "cat", filepath.Join(mp, "shared"))
	writePID := run(nobody, "sh", "-c", "echo from-nobody > "+filepath.Join(mp, "drop", "n"))
	if err := os.WriteFile(filepath.Join(mp, "byroot"), []byte("from root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unmount(t, mp)
	// The process writes its unmount line once the kernel has let go of the mount.
	if !pollUntil(20*time.Second, func() bool {
		b, _ := os.ReadFile(auditFile)
		return strings.Contains(string(b), `"event":"unmount"`)
	}) {
		t.Error("no unmount line 20 s after the unmount")
	}

	raw, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(auditFile); st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", st.Mode().Perm())
	}
	for _, secret := range []string{f.key.Base64()} {
		if strings.Contains(string(raw), secret) {
			t.Fatal("the audit log holds the key itself")
		}
	}
	type line struct {
		Event  string `json:"event"`
		Op     string `json:"op"`
		Object string `json:"object"`
		Key    string `json:"key"`
		Bytes  int64  `json:"bytes"`
		UID    int64  `json:"uid"`
		PID    int64  `json:"pid"`
	}
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var x line
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", l, err)
		}
		lines = append(lines, x)
	}
	find := func(op, object string) *line {
		for i := range lines {
			if lines[i].Event == "request" && lines[i].Op == op && lines[i].Object == object {
				return &lines[i]
			}
		}
		return nil
	}
	check := func(what string, l *line, uid, pid int) {
		t.Helper()
		if l == nil {
			t.Errorf("no audit line for %s:\n%s", what, raw)
			return
		}
		if l.Key != f.key.Fingerprint() {
			t.Errorf("%s: key %q, want the fingerprint %q", what, l.Key, f.key.Fingerprint())
		}
		if l.UID != int64(uid) {
			t.Errorf("%s: uid %d, want %d", what, l.UID, uid)
		}
		if pid != 0 && l.PID != int64(pid) {
			t.Errorf("%s: pid %d, want %d", what, l.PID, pid)
		}
	}
	check("nobody's read of shared", find("GetObject", "shared"), nobody, catPID)
	if l := find("GetObject", "shared"); l != nil && l.Bytes != int64(len("for everyone\n")) {
		t.Errorf("nobody's read of shared: %d bytes, want %d", l.Bytes, len("for everyone\n"))
	}
	check("nobody's write of drop/n", find("PutObject", "drop/n"), nobody, writePID)
	check("root's write of byroot", find("PutObject", "byroot"), 0, os.Getpid())
	var kinds []string
	for _, l := range lines {
		if l.Event != "request" {
			kinds = append(kinds, l.Event)
		}
	}
	if fmt.Sprint(kinds) != "[mount unmount]" {
		t.Errorf("events besides requests = %v, want [mount unmount]", kinds)
	}
}

// TestWatchAuditLogOfCheckAndRotate: `ssecfs check` and `ssecfs rotate` write their own
// audit lines: each keyed request with the fingerprint of the key used, and one event
// for the check, two (start, end) for the rotation; never a key.
func TestWatchAuditLogOfCheckAndRotate(t *testing.T) {
	f := newFixture(t)
	f.put("one", []byte("1\n"))
	newer := newKey(t)
	newFile := f.writeKeyFile("new.key", newer)
	auditFile := filepath.Join(f.dir, "audit.log")
	if out, code := f.ssecfs(nil, append(f.checkArgs(f.keyFile), "--audit-log", auditFile, f.bucket)...); code != 0 {
		t.Fatalf("check exited %d:\n%s", code, out)
	}
	if out, code := f.ssecfs(nil, rotateArgs(f, f.keyFile, newFile, f.bucket, "--audit-log", auditFile)...); code != 0 {
		t.Fatalf("rotate exited %d:\n%s", code, out)
	}
	raw, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{f.key.Base64(), newer.Base64()} {
		if strings.Contains(string(raw), k) {
			t.Fatal("the audit log holds a key itself")
		}
	}
	var events []string
	copied := false
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var x map[string]any
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		switch x["event"] {
		case "request":
			if x["uid"] != float64(os.Getuid()) {
				t.Errorf("request line with uid %v, want %d: %s", x["uid"], os.Getuid(), l)
			}
			if x["op"] == "CopyObject" && x["object"] == "one" {
				copied = x["key"] == newer.Fingerprint() && x["source_key"] == f.key.Fingerprint()
			}
		case "check":
			events = append(events, fmt.Sprintf("check usable=%v", x["usable"]))
		case "rotation":
			events = append(events, fmt.Sprintf("rotation %v", x["phase"]))
		}
	}
	if want := "[check usable=true rotation start rotation end]"; fmt.Sprint(events) != want {
		t.Errorf("events = %v, want %s", events, want)
	}
	if !copied {
		t.Errorf("no CopyObject line of one from the old key's fingerprint to the new one's:\n%s", raw)
	}
}
