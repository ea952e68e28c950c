package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
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
	sdk    *sdk            // setup and checks
	sdks   map[string]*sdk // the ceiling's, by HTTP version
	g      *gen
	crc    uint32
	cols   []column
	base   baseline

	dataset, smallTree *tree
	local              string // the tmpfs of the copies: src/ holds the dataset, out/ receives copies
	localMounted       bool

	keyFile, passwdFile, rcloneConf string

	mounts   mountSet
	nmount   int
	mountErr map[string]error // a tool that could not mount once is not tried again

	stopMu  sync.Mutex
	stopped bool

	busyBefore  float64       // share of CPU busy just before the run (other work skews the numbers)
	quietWaited time.Duration // spent in waitQuiet so far
	loadStart   string
	mon         *loadMonitor
	elapsed     time.Duration
}

const (
	dataBucket  = "bench-data" // what every column reads: the large object and the trees
	listBucket  = "bench-list"
	bigObject   = "read.bin"
	writeObject = "write.bin"
	smallDir    = "small"
	listDir     = "many"
)

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
	if b.sdk, err = newSDK(endpointOf(b.srv), key, "1.1"); err != nil {
		return err
	}
	b.sdks = map[string]*sdk{}
	for _, p := range b.cfg.protocols {
		if b.sdks[p], err = newSDK(endpointOf(b.srv), key, p); err != nil {
			return err
		}
	}
	b.g = newGen(b.cfg.seed)
	b.crc = b.g.crc(b.cfg.size)
	b.mountErr = map[string]error{}
	b.cols = b.columns()

	if err := b.setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	// Round after round, every column in turn: a drift of the machine or of the server over the run spreads over
	// every column instead of favouring the first.
	for round := 1; round <= b.cfg.runs && ctx.Err() == nil; round++ {
		for _, col := range b.cols {
			if ctx.Err() != nil {
				break
			}
			b.logf("round %d of %d: %s...", round, b.cfg.runs, col.label())
			if col.tool == colCeiling {
				b.ceiling(ctx, col, round)
			} else {
				b.runTool(ctx, col, round)
			}
		}
	}
	b.noteRSS()
	elapsed := time.Since(t0)
	report := b.report(elapsed)
	fmt.Println(report)
	if b.cfg.out != "" {
		if err := os.MkdirAll(filepath.Dir(b.cfg.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(b.cfg.out, []byte(report+keptNotes(b.cfg.out)), 0o644); err != nil {
			return err
		}
		b.logf("wrote %s (run took %v)", b.cfg.out, elapsed.Round(time.Second))
	}
	return ctx.Err()
}

// setup creates the buckets and what every column reads, written with the SDK beforehand so that every tool reads
// the same object layout: the large object and the two trees in the data bucket, the directory to list, and the local
// copy of the dataset that is copied into each mount.
func (b *bench) setup(ctx context.Context) error {
	buckets := []string{dataBucket, listBucket}
	for _, c := range b.cols {
		buckets = append(buckets, c.bucket())
	}
	for _, name := range buckets {
		if err := b.sdk.createBucket(ctx, name); err != nil {
			return fmt.Errorf("creating bucket %s: %w", name, err)
		}
		// SeaweedFS gives each bucket its own volumes on its first write; do that here, not in a timed workload.
		if err := b.sdk.put(ctx, name, "warmup", []byte("warm up\n")); err != nil {
			return fmt.Errorf("writing %s/warmup: %w", name, err)
		}
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
	if b.cfg.workloads["seq"] || b.cfg.workloads["random"] {
		t0 := time.Now()
		if err := b.sdk.putMultipart(ctx, dataBucket, bigObject, b.g, b.cfg.size, b.cfg.partSize, b.cfg.concurrency); err != nil {
			return fmt.Errorf("writing %s/%s: %w", dataBucket, bigObject, err)
		}
		b.logf("setup: %s/%s (%s) in %v", dataBucket, bigObject, formatSize(b.cfg.size), time.Since(t0).Round(time.Millisecond))
	}
	// The trees: content far from the large object's and the small files' in the generator's stream.
	b.dataset = newTree(b.g, datasetDir, b.cfg.treeFiles, b.cfg.treeFileSize, 1<<42)
	b.smallTree = newTree(b.g, smallTreeDir, b.cfg.smallTreeFiles, b.cfg.smallTreeSize, 1<<43)
	b.local = filepath.Join(b.dir, "local")
	// Room for the source of the copies in, one copy out at a time, and slack.
	b.localMounted = mountTmpfs(b.local, 2*max(b.dataset.bytes(), b.smallTree.bytes())+64<<20)
	if !b.localMounted {
		b.logf("warning: could not mount a tmpfs at %s: the local side of the copies is on disk", b.local)
	}
	for _, t := range []*tree{b.dataset, b.smallTree} {
		if (t == b.dataset && !b.cfg.workloads["tree"]) || (t == b.smallTree && !b.cfg.workloads["smalltree"]) {
			continue
		}
		t0 := time.Now()
		src := filepath.Join(b.local, "src", t.dir)
		if err := t.writeLocal(b.g, src); err != nil {
			return fmt.Errorf("writing the local %s: %w", t.dir, err)
		}
		if err := b.sdk.uploadTree(ctx, dataBucket, t.dir+"/", src, t.names(), b.cfg.copyJobs); err != nil {
			return fmt.Errorf("writing %s/%s/: %w", dataBucket, t.dir, err)
		}
		if t == b.smallTree {
			// Only the dataset is copied in.
			if err := os.RemoveAll(src); err != nil {
				return err
			}
		}
		b.logf("setup: %s/%s/ (%d files of %s) in %v", dataBucket, t.dir, t.files, formatSize(t.size), time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// outDir is a fresh path in the local tmpfs for one copy out; clearOut removes every copy.
func (b *bench) outDir(name string) string {
	_ = os.MkdirAll(filepath.Join(b.local, "out"), 0o755)
	return filepath.Join(b.local, "out", name)
}

func (b *bench) clearOut() { _ = os.RemoveAll(filepath.Join(b.local, "out")) }

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
	if b.localMounted {
		if err := syscall.Unmount(b.local, syscall.MNT_DETACH); err != nil {
			fmt.Fprintln(os.Stderr, "bench: unmounting the tmpfs:", err)
		}
		b.localMounted = false
	}
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
