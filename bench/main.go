// Command bench measures ssecfs against the AWS SDK's ceiling and against s3fs and rclone mount, all on SSE-C
// objects of a local SeaweedFS S3 server over TLS, in one run, and writes a markdown report.
//
//	go run ./bench -size 1GiB -out docs/BENCHMARKS.md   (make bench)
//
// It runs as root on Linux with /dev/fuse, like the integration tests. Everything it starts (the server, every mount,
// the peers' processes) is taken down when it ends, is interrupted (SIGINT, SIGTERM), or runs out of time (-timeout).
// It is not a test: `make test` does not run it, and nothing in the test suite depends on timings.
package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ssecfs/ssecfs/integration/s3server"
)

type config struct {
	size          int64
	out           string
	concurrency   int
	partSize      int64
	cacheSize     int64
	writeBuffer   int64
	ssecfsBin     string
	tools         []string
	rand4k        int
	rand1m        int
	smallFiles    int
	listFiles     int
	stepTimeout   time.Duration
	timeout       time.Duration
	dropCaches    bool
	waitIdle      time.Duration
	quietWait     time.Duration
	seed          uint64
	sizeText      string
	partSizeText  string
	cacheText     string
	writeBufText  string
	commandLine   string
	dropCachesOK  bool
	weedVersion   string
	peerVersions  map[string]string
	ssecfsVersion string
}

const smallSize = 4 << 10

var allTools = []string{"ssecfs", "s3fs", "rclone"}

func main() {
	os.Exit(run())
}

func run() int {
	var cfg config
	var tools string
	flag.StringVar(&cfg.sizeText, "size", "1GiB", "size of the object of the sequential and random workloads (e.g. 1GiB, 256MiB)")
	flag.StringVar(&cfg.out, "out", "", "also write the report to this markdown file (its directory is created)")
	flag.IntVar(&cfg.concurrency, "concurrency", 4, "requests in flight for the SDK ceiling; also ssecfs's --upload-concurrency and the peers' upload concurrency")
	flag.StringVar(&cfg.partSizeText, "part-size", "8MiB", "range size of the SDK ceiling's parallel GETs and part size of its multipart PUT; also ssecfs's --part-size and the peers' part size")
	flag.StringVar(&cfg.cacheText, "cache-size", "256MiB", "ssecfs --cache-size")
	flag.StringVar(&cfg.writeBufText, "write-buffer", "256MiB", "ssecfs --write-buffer")
	flag.StringVar(&cfg.ssecfsBin, "ssecfs", "bin/ssecfs", "the ssecfs binary (make build)")
	flag.StringVar(&tools, "tools", strings.Join(allTools, ","), "tools to measure besides the SDK ceiling")
	flag.IntVar(&cfg.rand4k, "random-4k", 200, "random 4 KiB reads")
	flag.IntVar(&cfg.rand1m, "random-1m", 50, "random 1 MiB reads")
	flag.IntVar(&cfg.smallFiles, "small-files", 1000, "4 KiB files created and read back")
	flag.IntVar(&cfg.listFiles, "list-files", 10000, "objects in the directory listed with ls -l")
	flag.DurationVar(&cfg.stepTimeout, "step-timeout", 20*time.Minute, "bound of one workload of one tool (it is marked failed past it)")
	flag.DurationVar(&cfg.timeout, "timeout", 3*time.Hour, "bound of the whole run")
	flag.BoolVar(&cfg.dropCaches, "drop-caches", true, "drop the kernel's page cache (echo 3 > /proc/sys/vm/drop_caches) before every read workload of every column")
	flag.DurationVar(&cfg.waitIdle, "wait-idle", 10*time.Minute, "wait at most this long for other work on the machine to end before starting")
	flag.DurationVar(&cfg.quietWait, "quiet-wait", 2*time.Minute, "before each measurement, wait at most this long for other processes to leave the CPU alone")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the data and of the random offsets")
	flag.Parse()
	cfg.commandLine = strings.Join(os.Args[1:], " ")

	var err error
	parse := func(text string, dst *int64) {
		if err == nil {
			*dst, err = parseSize(text)
		}
	}
	parse(cfg.sizeText, &cfg.size)
	parse(cfg.partSizeText, &cfg.partSize)
	parse(cfg.cacheText, &cfg.cacheSize)
	parse(cfg.writeBufText, &cfg.writeBuffer)
	if err == nil && (cfg.partSize%(1<<20) != 0 || cfg.partSize < 5<<20) {
		err = fmt.Errorf("-part-size must be a multiple of 1MiB, at least 5MiB")
	}
	if err == nil && (cfg.concurrency < 1 || cfg.concurrency > 64) {
		err = fmt.Errorf("-concurrency must be 1 to 64")
	}
	if err == nil && (cfg.rand4k < 1 || cfg.rand1m < 1 || cfg.smallFiles < 1 || cfg.listFiles < 1 ||
		cfg.rand4k > 1e6 || cfg.rand1m > 1e6 || cfg.smallFiles > 1e6 || cfg.listFiles > 1e6) {
		err = fmt.Errorf("-random-4k, -random-1m, -small-files and -list-files must be 1 to 1000000")
	}
	if err == nil && cfg.size < 2<<20 {
		err = fmt.Errorf("-size must be at least 2MiB")
	}
	for _, t := range strings.Split(tools, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		found := false
		for _, a := range allTools {
			found = found || a == t
		}
		if !found && err == nil {
			err = fmt.Errorf("-tools: unknown tool %q (known: %s)", t, strings.Join(allTools, ", "))
		}
		cfg.tools = append(cfg.tools, t)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if msg := missingPrerequisite(cfg); msg != "" {
		fmt.Fprintln(os.Stderr, "bench:", msg)
		return 1
	}
	if cfg.ssecfsBin, err = filepath.Abs(cfg.ssecfsBin); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	b := &bench{cfg: cfg, res: newResults()}
	// Cleanup runs once: at the end, on a signal, or when the run's time is up. A workload blocked on a FUSE mount
	// cannot be cancelled; the signal and timeout paths take the mounts down from under it and exit.
	var once sync.Once
	cleanup := func() {
		once.Do(func() { b.cleanup() })
	}
	defer cleanup()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "\nbench: %v: unmounting everything and stopping the server...\n", sig)
		cleanup()
		os.Exit(130)
	}()
	watchdog := time.AfterFunc(cfg.timeout, func() {
		fmt.Fprintf(os.Stderr, "\nbench: the run took more than -timeout %v: unmounting everything and stopping the server...\n", cfg.timeout)
		cleanup()
		os.Exit(1)
	})
	defer watchdog.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	if err := b.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func missingPrerequisite(cfg config) string {
	if os.Geteuid() != 0 {
		return "run as root (it mounts FUSE file systems and drops the page cache)"
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return "/dev/fuse is missing: load the fuse module or run the container with --device /dev/fuse"
	}
	if _, err := os.Stat(cfg.ssecfsBin); err != nil {
		return fmt.Sprintf("%s: %v (run make build, or give -ssecfs)", cfg.ssecfsBin, err)
	}
	return ""
}

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

// writeCredentials writes the key file (one base64 key, 0600: the format both ssecfs and s3fs read), s3fs's
// password file and rclone's configuration (which carries the key: 0600 too, removed with the work directory).
func (b *bench) writeCredentials(key sseKey) error {
	b.keyFile = filepath.Join(b.dir, "key")
	if err := os.WriteFile(b.keyFile, []byte(base64.StdEncoding.EncodeToString(key.raw)+"\n"), 0o600); err != nil {
		return err
	}
	b.passwdFile = filepath.Join(b.dir, "passwd-s3fs")
	if err := os.WriteFile(b.passwdFile, []byte(b.srv.AccessKey+":"+b.srv.SecretKey+"\n"), 0o600); err != nil {
		return err
	}
	remote := func(name, endpoint string) string {
		return fmt.Sprintf(`[%s]
type = s3
provider = Other
env_auth = false
access_key_id = %s
secret_access_key = %s
region = %s
endpoint = %s
force_path_style = true
sse_customer_algorithm = AES256
sse_customer_key_base64 = %s
sse_customer_key_md5 = %s
chunk_size = %dMi
upload_concurrency = %d

`, name, b.srv.AccessKey, b.srv.SecretKey, b.srv.Region, endpoint, key.b64, key.md5, b.cfg.partSize>>20, b.cfg.concurrency)
	}
	b.rcloneConf = filepath.Join(b.dir, "rclone.conf")
	conf := remote("bench", b.srv.Endpoint) + remote("benchproxy", b.proxy.Endpoint)
	return os.WriteFile(b.rcloneConf, []byte(conf), 0o600)
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
