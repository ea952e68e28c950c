package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ssecfs/ssecfs/integration/s3server"
)

// bench is one run.
type bench struct {
	cfg    config
	res    *results
	dir    string
	logDir string
	srv    *s3server.Server
	proxy  *countingProxy
	sdk    *sdk
	g      *gen
	crc    uint32

	keyFile, passwdFile, rcloneConf string

	mounts   mountSet
	nmount   int
	mountErr map[string]error // a tool that could not mount once is not tried again

	stopMu  sync.Mutex
	stopped bool

	busyBefore float64 // share of CPU busy just before the run (other work skews the numbers)
	loadStart  string
	mon        *loadMonitor
	elapsed    time.Duration
}

const (
	ceilingBucket = "bench-sdk"
	listBucket    = "bench-list"
	bigObject     = "read.bin"
	writeObject   = "write.bin"
	smallDir      = "small"
	listDir       = "many"
)

func toolBucket(tool string) string { return "bench-" + tool }

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) run(ctx context.Context) error {
	t0 := time.Now()
	var err error
	if b.dir, err = os.MkdirTemp("", "ssecfs-bench-"); err != nil {
		return err
	}
	b.logDir = filepath.Join(b.dir, "logs")
	if err := os.MkdirAll(b.logDir, 0o700); err != nil {
		return err
	}
	b.collectVersions()
	// Two cores: any other work on the machine skews every number. Wait (bounded) for it to end.
	waitUntil := time.Now().Add(b.cfg.waitIdle)
	for {
		b.busyBefore = cpuBusy(3 * time.Second)
		if b.busyBefore <= 0.15 || !time.Now().Before(waitUntil) || ctx.Err() != nil {
			break
		}
		b.logf("the CPU is %.0f%% busy with other work; waiting for it to end (at most until %s, -wait-idle)", 100*b.busyBefore, waitUntil.Format("15:04:05"))
		time.Sleep(10 * time.Second)
	}
	if b.busyBefore > 0.15 {
		b.logf("warning: the CPU is %.0f%% busy with other work; the numbers will be skewed", 100*b.busyBefore)
	}
	b.loadStart = loadAvg()
	b.mon = startLoadMonitor(b.dir)
	defer b.mon.Stop()

	b.logf("starting SeaweedFS (%s)...", b.cfg.weedVersion)
	srv, err := s3server.Start(filepath.Join(b.dir, "s3"))
	if err != nil {
		return err
	}
	b.stopMu.Lock()
	b.srv = srv
	b.stopMu.Unlock()
	proxy, err := startProxy(b.srv, b.dir)
	if err != nil {
		return fmt.Errorf("starting the counting proxy: %w", err)
	}
	b.stopMu.Lock()
	b.proxy = proxy
	b.stopMu.Unlock()
	key, err := newSSEKey()
	if err != nil {
		return err
	}
	if err := b.writeCredentials(key); err != nil {
		return err
	}
	if b.sdk, err = newSDK(b.srv, key); err != nil {
		return err
	}
	b.g = newGen(b.cfg.seed)
	b.crc = b.g.crc(b.cfg.size)
	b.mountErr = map[string]error{}

	if err := b.setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	b.ceiling(ctx)
	for _, tool := range b.cfg.tools {
		if ctx.Err() != nil {
			break
		}
		b.runTool(ctx, tool)
	}
	elapsed := time.Since(t0)
	report := b.report(elapsed)
	fmt.Println(report)
	if b.cfg.out != "" {
		if err := os.MkdirAll(filepath.Dir(b.cfg.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(b.cfg.out, []byte(report), 0o644); err != nil {
			return err
		}
		b.logf("wrote %s (run took %v)", b.cfg.out, elapsed.Round(time.Second))
	}
	return ctx.Err()
}

// setup creates the buckets and the objects the tools read: the big object in each tool's bucket (written by the SDK
// like the ceiling's, so every tool reads the same layout) and the directory to list.
func (b *bench) setup(ctx context.Context) error {
	buckets := []string{ceilingBucket, listBucket}
	for _, t := range b.cfg.tools {
		buckets = append(buckets, toolBucket(t))
	}
	for _, name := range buckets {
		if err := b.sdk.createBucket(ctx, name); err != nil {
			return fmt.Errorf("creating bucket %s: %w", name, err)
		}
	}
	// SeaweedFS gives each bucket its own volumes on its first write; do that here, not in a timed workload. The tool
	// buckets get theirs with read.bin below.
	if err := b.sdk.putMultipart(ctx, ceilingBucket, "warmup.bin", b.g, 2*b.cfg.partSize, b.cfg.partSize, b.cfg.concurrency); err != nil {
		return fmt.Errorf("writing %s/warmup.bin: %w", ceilingBucket, err)
	}
	t0 := time.Now()
	b.logf("setup: writing %d objects into %s/%s/ (32 at a time)...", b.cfg.listFiles, listBucket, listDir)
	err := b.sdk.putMany(ctx, listBucket, b.cfg.listFiles, 32,
		func(i int) string { return fmt.Sprintf("%s/f%05d", listDir, i) },
		func(i int) []byte { return []byte(fmt.Sprintf("object %d\n", i)) })
	if err != nil {
		return err
	}
	b.logf("setup: %d objects in %v", b.cfg.listFiles, time.Since(t0).Round(time.Millisecond))
	for _, t := range b.cfg.tools {
		t0 := time.Now()
		if err := b.sdk.putMultipart(ctx, toolBucket(t), bigObject, b.g, b.cfg.size, b.cfg.partSize, b.cfg.concurrency); err != nil {
			return fmt.Errorf("writing %s/%s: %w", toolBucket(t), bigObject, err)
		}
		b.logf("setup: %s/%s (%s) in %v", toolBucket(t), bigObject, formatSize(b.cfg.size), time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// coldStart drops the kernel's page cache before a read workload, if asked to (and if allowed to).
func (b *bench) coldStart() {
	if b.cfg.dropCaches {
		if dropCaches() {
			b.cfg.dropCachesOK = true
		}
	}
}

// cleanup takes down every mount, the proxy and the server, and removes the work directory.
func (b *bench) cleanup() {
	b.stopMu.Lock()
	defer b.stopMu.Unlock()
	if b.stopped {
		return
	}
	b.stopped = true
	b.mounts.unmountAll()
	if b.proxy != nil {
		_ = b.proxy.Close()
	}
	if b.srv != nil {
		if err := b.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stopping the S3 server:", err)
		}
	}
	if b.dir != "" {
		if os.Getenv("BENCH_KEEP") != "" {
			fmt.Fprintln(os.Stderr, "bench: BENCH_KEEP set: leaving", b.dir)
		} else {
			_ = os.RemoveAll(b.dir)
		}
	}
}
