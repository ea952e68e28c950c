package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The peers ssecfs is compared with, s3fs and rclone mount: the options they are given and how they are mounted,
// each in the foreground as a child of the bench.

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
