package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssecfs/ssecfs/audit"
	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/fs"
	"github.com/ssecfs/ssecfs/internal/sdnotify"
	"github.com/ssecfs/ssecfs/keysrc"
)

// readAheadParallel is how many read-ahead blocks one open file fetches at once. More
// than the upload concurrency: each read also pays for FUSE and copies, and eight in
// flight measured about 10% faster than four on a 512 MiB sequential read.
const readAheadParallel = 8

func newMountCmd() *cobra.Command {
	c := &mountConfig{}
	cmd := &cobra.Command{
		Use:   "mount [flags] BUCKET[/PREFIX] MOUNTPOINT",
		Short: "mount a bucket",
		Long:  mountLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.finish(cmd.Flags(), args); err != nil {
				return err
			}
			return status(runMount(c, cmd.Flags()))
		},
		ValidArgsFunction: completeMountArgs,
	}
	c.register(cmd.Flags())
	cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	setHelp(cmd, mountHelp)
	return cmd
}

// completeMountArgs completes MOUNTPOINT with directories; a bucket is not a file.
func completeMountArgs(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 1 {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// runMount mounts as c says, in the background unless --foreground; fs holds the flags
// that were set. It returns the exit status.
func runMount(c *mountConfig, fs *pflag.FlagSet) int {
	if !c.foreground {
		return startBackground(c.childArgs(fs))
	}
	ready := openReadyPipe()
	if err := serve(c, ready); err != nil {
		ready.fail(err)
		fmt.Fprintf(os.Stderr, "ssecfs mount: %v\n", err)
		return 1
	}
	return 0
}

// serve checks everything it can, mounts, tells the parent (if any) that the mount is
// live, and runs until unmounted or signalled.
func serve(c *mountConfig, ready *readyPipe) error {
	logger, sink, err := newLogger(c, ready)
	if err != nil {
		return err
	}
	defer sink.Close()
	disableCoreDumps(logger)
	limitMemory(c)
	w, err := openWatchers(c, logger)
	if err != nil {
		return err
	}
	defer w.close()
	// From here on SIGHUP (logrotate's signal) never kills the mount: it reopens the
	// logs, and once the tree exists drops its cached listings.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tree *fs.FS
	var treeMu sync.Mutex
	go func() {
		for range hup {
			if err := sink.Reopen(); err != nil {
				logger.Warn("SIGHUP: could not reopen the log", "err", err)
			}
			if err := w.audit.Reopen(); err != nil {
				logger.Warn("SIGHUP: could not reopen the audit log", "err", err)
			}
			treeMu.Lock()
			t := tree
			treeMu.Unlock()
			if t != nil {
				t.DropListings()
			}
			logger.Info("SIGHUP: logs reopened, cached listings dropped")
		}
	}()

	if err := prepareMountpoint(c.mountpoint, c.allowNonEmpty, logger); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	keys, err := keysrc.Load(ctx, c.keys)
	if err != nil {
		return err
	}
	uploads, uploadsDir := openUploadLog(c, logger)
	if uploads != nil {
		defer uploads.Close()
	}
	cfg := c.config(c.bucket)
	cfg.Keyring, cfg.Logger, cfg.Uploads = keys, logger, journal(uploads)
	cfg.Observer, cfg.CallerOf = w.requestObserver(logger), fs.CallerOf
	store, err := bucket.Open(ctx, cfg)
	if err != nil {
		return err
	}
	if err := store.Check(ctx, c.prefix); err != nil {
		return err
	}
	if !c.readOnly {
		abortLeftovers(store, uploadsDir, c, logger)
	}

	pages, err := cache.New(int64(c.cacheSize), cache.Options{FetchTimeout: 2 * time.Minute, ReadAheadParallel: readAheadParallel,
		Observer: w.cacheObserver()})
	if err != nil {
		return fmt.Errorf("allocating the page cache (--cache-size %v): %w", &c.cacheSize, err)
	}
	defer pages.Close() // zeroes every page after the unmount
	if !pages.Locked() {
		logger.Warn("could not lock the page cache in memory (RLIMIT_MEMLOCK): decrypted pages could be swapped out; " +
			"raise the limit (ulimit -l) or grant CAP_IPC_LOCK")
	}
	filePerm, dirPerm := c.defaultModes()
	w.metrics.WatchCache(pages)
	treeMu.Lock()
	tree = fs.New(fs.BucketStore(store), pages, fs.Options{
		Prefix:   c.prefix,
		UID:      uint32(c.uid),
		GID:      uint32(c.gid),
		FileMode: filePerm,
		DirMode:  dirPerm,
		StatTTL:  statTTL(c.statTTL),
		Logger:   logger,

		ReadOnly:            c.readOnly,
		PartSize:            int64(c.partSize),
		UploadConcurrency:   c.uploadConcurrency,
		WriteBuffer:         int64(c.writeBuffer),
		OverwriteConcurrent: c.overwriteConcurrent,
		PrefetchFiles:       prefetchFiles(c.prefetchFiles),
		Observer:            w.fsObserver(),
	})
	treeMu.Unlock()
	w.metrics.WatchWriteback(tree.WritebackStats)
	server, err := fs.Mount(c.mountpoint, tree, fs.MountOptions{
		FsName:     "ssecfs:" + c.bucket + "/" + c.prefix,
		AllowOther: c.allowOther,
		AllowRoot:  c.allowRoot,
		ReadOnly:   c.readOnly,
		Options:    c.kernelOptions,
		Debug:      c.debugFuse,
		Logger:     slog.NewLogLogger(logger.Handler(), fuseLogLevel(c.debugFuse)),
	})
	if err != nil {
		return explainMountError(c.mountpoint, err)
	}
	logger.Info("mounted", "bucket", c.bucket, "prefix", c.prefix, "mountpoint", c.mountpoint,
		"endpoint", store.Where(), "keys", keys.Fingerprints(), "read_only", c.readOnly, "log", sink.Where())
	w.audit.Event(audit.KindMount, map[string]any{"bucket": c.bucket, "prefix": c.prefix, "mountpoint": c.mountpoint,
		"endpoint": store.Where(), "keys": keys.Fingerprints(), "read_only": c.readOnly, "uid": os.Getuid(), "pid": os.Getpid()})
	ready.ok()
	notify(logger, sdnotify.Ready)

	stop := make(chan os.Signal, 2)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go unmountOnSignal(stop, server, c.mountpoint, logger)
	server.Wait()
	notify(logger, sdnotify.Stopping) // also after an umount from outside
	w.audit.Event(audit.KindUnmount, map[string]any{"mountpoint": c.mountpoint, "pid": os.Getpid()})
	logger.Info("unmounted", "mountpoint", c.mountpoint)
	return nil
}

// limitMemory tells the Go runtime what the flags allow, so it collects garbage harder
// near that bound instead of letting the heap double past it: cache, write buffer,
// parts in flight, and a small constant.
func limitMemory(c *mountConfig) {
	debug.SetMemoryLimit(int64(c.cacheSize) + int64(c.writeBuffer) + int64(c.uploadConcurrency)*int64(c.partSize) + 64<<20)
}

// fuseLogLevel is the level of go-fuse's own messages: debug (its splice fallbacks are
// frequent and harmless), unless --debug-fuse asked for its trace.
func fuseLogLevel(debugFuse bool) slog.Level {
	if debugFuse {
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

type unmounter interface{ Unmount() error }

// unmountOnSignal unmounts cleanly on the first signal. If the mount is busy, a second
// signal detaches it lazily (root only): it goes once the last file on it is closed.
func unmountOnSignal(sigs <-chan os.Signal, server unmounter, mountpoint string, logger *slog.Logger) {
	n := 0
	for sig := range sigs {
		n++
		logger.Info("unmounting", "signal", sig.String())
		notify(logger, sdnotify.Stopping)
		err := server.Unmount()
		if err == nil {
			return
		}
		if n > 1 && os.Geteuid() == 0 {
			if derr := syscall.Unmount(mountpoint, syscall.MNT_DETACH); derr == nil {
				logger.Warn("mount was busy; detached it lazily", "mountpoint", mountpoint)
				return
			}
		}
		logger.Error("unmount failed (is a file on it still open?); signal again to detach", "err", err)
	}
}

func explainMountError(dir string, err error) error {
	if os.Geteuid() != 0 {
		if _, lerr := exec.LookPath("fusermount3"); lerr != nil {
			return fmt.Errorf("mounting %s as a non-root user needs fusermount3: install it with apt-get install fuse3", dir)
		}
		// fusermount3 opens /dev/fuse with the caller's own rights.
		if aerr := syscall.Access("/dev/fuse", 6 /* R_OK|W_OK */); aerr != nil {
			return fmt.Errorf("mounting %s: /dev/fuse is not readable and writable by uid %d (%v); "+
				"Debian's default is mode 0666: ask an administrator to run chmod 666 /dev/fuse", dir, os.Geteuid(), aerr)
		}
	}
	if _, serr := os.Stat("/dev/fuse"); serr != nil {
		return fmt.Errorf("mounting %s: FUSE is not available (%v): load the fuse module or give the container /dev/fuse", dir, serr)
	}
	return fmt.Errorf("mounting %s: %s", dir, strings.TrimSpace(err.Error()))
}

// statTTL is --stat-ttl for the tree: 0 turns caching off, which the tree spells as a
// negative value (its zero means the default).
func statTTL(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// prefetchFiles is --prefetch-files for the tree: 0 turns the prefetch off, which the
// tree spells as a negative value (its zero means the default).
func prefetchFiles(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
