package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// mountSSECFS mounts with the ssecfs binary in background mode, as users do.
func (b *bench) mountSSECFS(ctx context.Context, t target, mp, proto string) (*mount, error) {
	logFile := filepath.Join(b.logDir, filepath.Base(mp)+".log")
	args := append([]string{"mount",
		"--endpoint", t.endpoint, "--ca-bundle", t.caFile, "--key-file", b.keyFile,
		"--log-file", logFile, "--http-version", proto,
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
	// The background process runs the same binary, whatever its name (-ssecfs).
	for i := 0; i < 40 && m.pid == 0; i++ {
		if m.pid = pidByMountpoint(filepath.Base(b.cfg.ssecfsBin), mp); m.pid == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if m.pid == 0 {
		b.logf("warning: no process of %s serves %s: its CPU time and peak RSS are not measured", b.cfg.ssecfsBin, mp)
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
