package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	size           int64
	runs           int
	protocols      []string
	workloads      map[string]bool
	treeFiles      int
	treeFileSize   int64
	smallTreeFiles int
	smallTreeSize  int64
	copyJobs       int
	baseline       string
	out            string
	concurrency    int
	partSize       int64
	cacheSize      int64
	writeBuffer    int64
	ssecfsBin      string
	tools          []string
	rand4k         int
	rand1m         int
	smallFiles     int
	listFiles      int
	stepTimeout    time.Duration
	timeout        time.Duration
	dropCaches     bool
	waitIdle       time.Duration
	quietWait      time.Duration
	quietBudget    time.Duration
	seed           uint64
	sizeText       string
	partSizeText   string
	cacheText      string
	writeBufText   string
	commandLine    string
	dropCachesOK   bool
	weedVersion    string
	peerVersions   map[string]string
	ssecfsVersion  string
}

const smallSize = 4 << 10

var allTools = []string{"ssecfs", "s3fs", "rclone"}

func main() {
	if len(os.Args) == 2 && os.Args[1] == childArg {
		os.Exit(runCeilingChild())
	}
	os.Exit(run())
}

func run() int {
	var cfg config
	var tools, protocols, workloads, treeSize, smallTreeSize string
	var groups []string
	for _, g := range workloadGroups {
		groups = append(groups, g.name)
	}
	flag.StringVar(&cfg.sizeText, "size", "1GiB", "size of the object of the sequential and random workloads (e.g. 1GiB, 256MiB)")
	flag.StringVar(&cfg.out, "out", "", "also write the report to this markdown file (its directory is created)")
	flag.IntVar(&cfg.concurrency, "concurrency", 4, "requests in flight for the SDK ceiling; also ssecfs's --upload-concurrency and the peers' upload concurrency")
	flag.StringVar(&cfg.partSizeText, "part-size", "8MiB", "range size of the SDK ceiling's parallel GETs and part size of its multipart PUT; also ssecfs's --part-size and the peers' part size")
	flag.StringVar(&cfg.cacheText, "cache-size", "256MiB", "ssecfs --cache-size")
	flag.StringVar(&cfg.writeBufText, "write-buffer", "256MiB", "ssecfs --write-buffer")
	flag.StringVar(&cfg.ssecfsBin, "ssecfs", "bin/ssecfs", "the ssecfs binary (make build)")
	flag.StringVar(&tools, "tools", strings.Join(allTools, ","), "tools to measure besides the SDK ceiling")
	flag.StringVar(&protocols, "protocols", "1.1,2", "HTTP versions over which the SDK ceiling and ssecfs run (ssecfs --http-version): 1.1, 2 or both; each peer is compared with ssecfs over the version it speaks (else the first)")
	flag.IntVar(&cfg.runs, "runs", 3, "runs of every workload in every column; a cell is their median, with their range")
	flag.StringVar(&workloads, "workloads", strings.Join(groups, ","), "workloads to run: "+strings.Join(groups, ", "))
	flag.IntVar(&cfg.treeFiles, "tree-files", 64, "files of the dataset tree copied out of and into each mount")
	flag.StringVar(&treeSize, "tree-file-size", "8MiB", "size of each file of the dataset tree")
	flag.IntVar(&cfg.smallTreeFiles, "small-tree-files", 400, "files of the small-file tree copied out of each mount")
	flag.StringVar(&smallTreeSize, "small-tree-file-size", "64KiB", "size of each file of the small-file tree")
	flag.IntVar(&cfg.copyJobs, "copy-jobs", 8, "cp processes at once in the parallel copy; also the SDK ceiling's whole-object GETs and PUTs in flight for the trees")
	flag.StringVar(&cfg.baseline, "baseline", "", "an earlier report whose ssecfs/ceiling ratios the no-regression verdicts compare with (default: the -out file, if it exists, before it is replaced)")
	flag.IntVar(&cfg.rand4k, "random-4k", 200, "random 4 KiB reads")
	flag.IntVar(&cfg.rand1m, "random-1m", 50, "random 1 MiB reads")
	flag.IntVar(&cfg.smallFiles, "small-files", 1000, "4 KiB files created and read back")
	flag.IntVar(&cfg.listFiles, "list-files", 10000, "objects in the directory listed with ls -l")
	flag.DurationVar(&cfg.stepTimeout, "step-timeout", 20*time.Minute, "bound of one workload of one tool (it is marked failed past it)")
	flag.DurationVar(&cfg.timeout, "timeout", 3*time.Hour, "bound of the whole run")
	flag.BoolVar(&cfg.dropCaches, "drop-caches", true, "drop the kernel's page cache (echo 3 > /proc/sys/vm/drop_caches) before every read workload of every column")
	flag.DurationVar(&cfg.waitIdle, "wait-idle", 10*time.Minute, "wait at most this long for other work on the machine to end before starting")
	flag.DurationVar(&cfg.quietWait, "quiet-wait", time.Minute, "before each measurement, wait at most this long for other processes to leave the CPU alone")
	flag.DurationVar(&cfg.quietBudget, "quiet-budget", 15*time.Minute, "wait at most this long in all for other processes (-quiet-wait), so that a busy machine cannot stretch the run without end")
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
	parse(treeSize, &cfg.treeFileSize)
	parse(smallTreeSize, &cfg.smallTreeSize)
	if err == nil && (cfg.runs < 1 || cfg.runs > 99) {
		err = fmt.Errorf("-runs must be 1 to 99")
	}
	if err == nil && (cfg.treeFiles < 1 || cfg.treeFiles > 100000 || cfg.smallTreeFiles < 1 || cfg.smallTreeFiles > 100000) {
		err = fmt.Errorf("-tree-files and -small-tree-files must be 1 to 100000")
	}
	if err == nil && (cfg.copyJobs < 1 || cfg.copyJobs > 64) {
		err = fmt.Errorf("-copy-jobs must be 1 to 64")
	}
	if err == nil && (cfg.treeFileSize > 1<<30 || cfg.smallTreeSize > 1<<30) {
		err = fmt.Errorf("-tree-file-size and -small-tree-file-size must be at most 1GiB")
	}
	for _, p := range strings.Split(protocols, ",") {
		switch p = strings.TrimSpace(p); p {
		case "":
		case "1.1", "2":
			if !slices.Contains(cfg.protocols, p) {
				cfg.protocols = append(cfg.protocols, p)
			}
		default:
			if err == nil {
				err = fmt.Errorf("-protocols: unknown HTTP version %q (known: 1.1, 2)", p)
			}
		}
	}
	if err == nil && len(cfg.protocols) == 0 {
		err = fmt.Errorf("-protocols: give 1.1, 2 or both")
	}
	cfg.workloads = map[string]bool{}
	for _, w := range strings.Split(workloads, ",") {
		if w = strings.TrimSpace(w); w == "" {
			continue
		}
		if !slices.Contains(groups, w) && err == nil {
			err = fmt.Errorf("-workloads: unknown workload %q (known: %s)", w, strings.Join(groups, ", "))
		}
		cfg.workloads[w] = true
	}
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

	if cfg.baseline == "" && cfg.out != "" {
		if _, err := os.Stat(cfg.out); err == nil {
			cfg.baseline = cfg.out
		}
	}
	b := &bench{cfg: cfg, res: newResults()}
	// Read before the run: the report replaces it.
	b.base = readBaseline(cfg.baseline)
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
