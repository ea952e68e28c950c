package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ssecfs/ssecfs/integration/mountinfo"
)

const (
	mountTimeout   = 3 * time.Minute  // a mount command, or a peer, until the mount is live
	unmountTimeout = 60 * time.Second // umount retries (EBUSY), then waiting for the daemon to exit
)

// mount is one live FUSE mount of a tool.
type mount struct {
	tool    string
	dir     string
	pid     int           // the process serving the mount (0 if not found)
	exited  chan struct{} // closed when our child (a peer run in the foreground) has exited; nil for ssecfs
	logFile string
	after   func() // run after the unmount (e.g. removing rclone's cache directory)
}

// mounts are the live mounts, so that an interrupted bench can take them all down.
type mountSet struct {
	mu  sync.Mutex
	set map[*mount]bool
}

func (s *mountSet) add(m *mount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[*mount]bool{}
	}
	s.set[m] = true
}

func (s *mountSet) remove(m *mount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.set, m)
}

// unmountAll takes down every live mount, at once and lazily if need be (cleanup after a signal or a timeout).
func (s *mountSet) unmountAll() {
	s.mu.Lock()
	var all []*mount
	for m := range s.set {
		all = append(all, m)
	}
	s.mu.Unlock()
	for _, m := range all {
		m.kill()
		_ = m.unmount()
		s.remove(m)
	}
}

// kill ends the mount's process at once and detaches the mount, so that anything blocked on it returns.
func (m *mount) kill() {
	if m.pid > 0 {
		_ = syscall.Kill(m.pid, syscall.SIGKILL)
	}
	if isMounted(m.dir) {
		_ = syscall.Unmount(m.dir, syscall.MNT_DETACH)
	}
}

// unmount unmounts (retrying while busy), then waits until the serving process has exited, killing it if it does not
// in time. The serving process exiting is what tells that a peer's pending uploads are done or abandoned.
func (m *mount) unmount() error {
	var err error
	deadline := time.Now().Add(unmountTimeout)
	for isMounted(m.dir) {
		err = syscall.Unmount(m.dir, 0)
		if err == nil || !isMounted(m.dir) {
			err = nil
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Unmount(m.dir, syscall.MNT_DETACH)
			err = fmt.Errorf("unmounting %s: %v (detached it lazily)", m.dir, err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !m.waitExit(time.Until(deadline) + 5*time.Second) {
		if m.pid > 0 {
			_ = syscall.Kill(m.pid, syscall.SIGKILL)
		}
		m.waitExit(10 * time.Second)
		if err == nil {
			err = fmt.Errorf("%s (pid %d) did not exit after unmount; killed it", m.tool, m.pid)
		}
	}
	if m.after != nil {
		m.after()
		m.after = nil
	}
	_ = os.Remove(m.dir)
	return err
}

// waitExit waits until the mount's process is gone, at most d.
func (m *mount) waitExit(d time.Duration) bool {
	if m.exited != nil {
		select {
		case <-m.exited:
			return true
		case <-time.After(d):
			return false
		}
	}
	if m.pid <= 0 {
		return true
	}
	deadline := time.Now().Add(d)
	for !processGone(m.pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// peakRSS is the process's VmHWM in bytes (0 if unknown).
func (m *mount) peakRSS() int64 {
	if m.pid <= 0 {
		return 0
	}
	return vmHWM(m.pid)
}

// processGone reports whether pid has exited (a zombie counts as gone: its parent, a released ssecfs, is not ours to
// reap).
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "State:") {
			return strings.Contains(line, "Z") || strings.Contains(line, "X")
		}
	}
	return false
}

func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// pidByMountpoint finds the process whose command line names dir and whose executable is named exe.
func pidByMountpoint(exe, dir string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(data) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if filepath.Base(args[0]) != exe {
			continue
		}
		for _, a := range args[1:] {
			if a == dir {
				return pid
			}
		}
	}
	return 0
}

// isMounted reports whether dir is a mount point.
func isMounted(dir string) bool { return mountinfo.IsMounted(dir) }

// cleanEnv is our environment without AWS settings the machine may carry.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") && !strings.HasPrefix(e, "RCLONE_") && !strings.HasPrefix(e, "CURL_CA_BUNDLE=") {
			env = append(env, e)
		}
	}
	return env
}

// target is where a tool mounts: a bucket, reached directly or through the counting proxy.
type target struct {
	bucket   string
	endpoint string
	caFile   string
	proxied  bool
}

// mountSSECFS mounts with the ssecfs binary in background mode, as users do.
func (b *bench) mountSSECFS(ctx context.Context, t target, mp string) (*mount, error) {
	logFile := filepath.Join(b.logDir, filepath.Base(mp)+".log")
	args := append([]string{"mount",
		"--endpoint", t.endpoint, "--ca-bundle", t.caFile, "--key-file", b.keyFile,
		"--log-file", logFile,
	}, b.ssecfsFlags()...)
	args = append(args, t.bucket, mp)
	cctx, cancel := context.WithTimeout(ctx, mountTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, b.cfg.ssecfsBin, args...)
	cmd.Env = append(cleanEnv(), b.srv.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if isMounted(mp) {
			_ = syscall.Unmount(mp, syscall.MNT_DETACH)
		}
		return nil, fmt.Errorf("ssecfs mount: %v: %s", err, lastLines(string(out), 3))
	}
	if !isMounted(mp) {
		return nil, fmt.Errorf("ssecfs mount exited 0 but %s is not mounted: %s", mp, lastLines(string(out), 3))
	}
	m := &mount{tool: "ssecfs", dir: mp, logFile: logFile}
	for i := 0; i < 40 && m.pid == 0; i++ {
		if m.pid = pidByMountpoint("ssecfs", mp); m.pid == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return m, nil
}

// ssecfsFlags are the mount flags the bench gives ssecfs.
func (b *bench) ssecfsFlags() []string {
	return []string{
		"--cache-size", formatSize(b.cfg.cacheSize),
		"--write-buffer", formatSize(b.cfg.writeBuffer),
		"--part-size", formatSize(b.cfg.partSize),
		"--upload-concurrency", strconv.Itoa(b.cfg.concurrency),
	}
}

// s3fsOptions are the -o options given to s3fs besides url, passwd_file and the key file; the part size and upload
// concurrency are set to the bench's (ssecfs's), not s3fs's defaults (10 MB, 5).
func (b *bench) s3fsOptions() []string {
	return []string{
		"use_path_request_style",
		fmt.Sprintf("multipart_size=%d", b.cfg.partSize>>20),
		fmt.Sprintf("parallel_count=%d", b.cfg.concurrency),
		"dbglevel=warn",
	}
}

// mountS3FS runs s3fs in the foreground (-f) as our child, so we hold its pid and its log, and waits until mounted.
// TLS trust: s3fs's libcurl takes the CA bundle from CURL_CA_BUNDLE; our certificate names 127.0.0.1, so the host
// name is verified as usual.
func (b *bench) mountS3FS(ctx context.Context, t target, mp string) (*mount, error) {
	args := []string{t.bucket, mp, "-f",
		"-o", "url=" + t.endpoint,
		"-o", "passwd_file=" + b.passwdFile,
		"-o", "use_sse=custom:" + b.keyFile,
	}
	for _, o := range b.s3fsOptions() {
		args = append(args, "-o", o)
	}
	env := append(cleanEnv(), "CURL_CA_BUNDLE="+t.caFile)
	return b.startPeer(ctx, "s3fs", args, env, mp, nil)
}

// rcloneFlags are the flags given to rclone mount besides the config, the CA and the cache and log locations.
func (b *bench) rcloneFlags() []string {
	return []string{"--vfs-cache-mode", "writes", "--vfs-write-back", "0s"}
}

// mountRclone runs rclone mount in the foreground as our child, with a cache directory of its own that is removed
// after the unmount (it holds plaintext: with --vfs-cache-mode writes, rclone stages every file written on disk).
func (b *bench) mountRclone(ctx context.Context, t target, mp string) (*mount, error) {
	remote := "bench"
	if t.proxied {
		remote = "benchproxy"
	}
	cacheDir := mp + "-rclone-cache"
	logFile := filepath.Join(b.logDir, filepath.Base(mp)+".log")
	args := append([]string{"mount", remote + ":" + t.bucket, mp,
		"--config", b.rcloneConf,
		"--ca-cert", t.caFile,
		"--cache-dir", cacheDir,
		"--log-file", logFile, "--log-level", "NOTICE",
	}, b.rcloneFlags()...)
	m, err := b.startPeer(ctx, "rclone", args, cleanEnv(), mp, func() { _ = os.RemoveAll(cacheDir) })
	if m != nil {
		m.logFile = logFile
	}
	if err != nil {
		_ = os.RemoveAll(cacheDir)
	}
	return m, err
}

// startPeer starts a peer mount process in the foreground and waits until dir is mounted, the process exits, or
// mountTimeout passes.
func (b *bench) startPeer(ctx context.Context, name string, args, env []string, mp string, after func()) (*mount, error) {
	logFile := filepath.Join(b.logDir, filepath.Base(mp)+".log")
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	fmt.Fprintf(lf, "$ %s %s\n", name, strings.Join(redactArgs(args), " "))
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdout = lf
	cmd.Stderr = lf
	// Its own process group: a Ctrl-C in the terminal reaches only the bench, which then unmounts in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	m := &mount{tool: name, dir: mp, pid: cmd.Process.Pid, exited: make(chan struct{}), logFile: logFile, after: after}
	go func() {
		_ = cmd.Wait()
		close(m.exited)
	}()
	deadline := time.Now().Add(mountTimeout)
	for !isMounted(mp) {
		select {
		case <-m.exited:
			return nil, fmt.Errorf("%s exited before mounting: %s", name, lastLines(readFile(logFile), 3))
		case <-ctx.Done():
			m.kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.kill()
			return nil, fmt.Errorf("%s did not mount within %v: %s", name, mountTimeout, lastLines(readFile(logFile), 3))
		}
	}
	// A FUSE mount is listed as soon as the kernel has it; wait until it answers.
	for i := 0; i < 100; i++ {
		if _, err := os.ReadDir(mp); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return m, nil
}

// redactArgs hides nothing secret today (keys and credentials are passed in files), but keeps it so if an option
// ever carries one.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.Contains(strings.ToLower(a), "key=") || strings.Contains(strings.ToLower(a), "secret") {
			a = "(redacted)"
		}
		out[i] = a
	}
	return out
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// lastLines returns the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "(no output)"
	}
	return strings.Join(lines, " | ")
}

// errText is an error as one short line for a table cell.
func errText(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return strings.ReplaceAll(s, "|", "/")
}

var errMismatch = errors.New("data read differs from data written")

// dropCaches asks the kernel to drop its page cache; false if it may not (a container's read-only /proc/sys).
func dropCaches() bool {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200) == nil
}
