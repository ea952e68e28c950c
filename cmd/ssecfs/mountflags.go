package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ssecfs/ssecfs/internal/logsink"
)

// mountConfig is everything `ssecfs mount` was told.
type mountConfig struct {
	target
	source     string // BUCKET[/PREFIX] as given
	mountpoint string
	bucketFlags

	readOnly, allowOther, allowRoot, foreground bool
	allowNonEmpty                               bool
	uid, gid                                    uint
	fileMode, dirMode, umask                    fileMode
	cacheSize                                   byteSize
	partSize, writeBuffer                       byteSize
	uploadConcurrency                           int
	overwriteConcurrent                         bool
	statTTL                                     time.Duration
	prefetchFiles                               int
	logLevel, logFile, logFormat                string
	metricsAddr, auditLog, pprofAddr            string
	debugFuse                                   bool

	// options are the -o arguments, as given; kernelOptions what they asked of the
	// kernel mount (nodev, nosuid, noexec).
	options       []string
	kernelOptions []string
}

const mountLong = `Mounts BUCKET (or only the keys under PREFIX) at MOUNTPOINT. Without --foreground it
returns once the mount is live (exit 0) or has failed (non-zero, with the reason), and
the filesystem keeps running in the background until unmounted (umount MOUNTPOINT).

Before mounting it checks that the endpoint answers over TLS, the credentials are
accepted, the bucket exists and can be listed, and the keys are well formed. It refuses
a MOUNTPOINT that is already mounted, or that holds files (unless --allow-non-empty).
`

// mountHelp groups mount's flags for --help.
var mountHelp = commandHelp{
	usage: "ssecfs mount [flags] BUCKET[/PREFIX] MOUNTPOINT",
	groups: []flagGroup{
		{title: "Keys (exactly one source; each holds one or more keys, the first writes and is tried\n" +
			"first, the others are older keys tried on reads):", names: keyFlagNames},
		whereGroup,
		{title: "How it looks:", names: []string{"read-only", "allow-other", "allow-root", "uid", "gid",
			"file-mode", "dir-mode", "umask", "cache-size", "stat-ttl", "prefetch-files"}},
		{title: "Writing (data reaches S3 when a file is closed or fsync'd):",
			names: []string{"part-size", "upload-concurrency", "write-buffer", "overwrite-concurrent"}},
		{title: "Running:", names: []string{"allow-non-empty", "foreground", "log-level", "log-file", "log-format", "debug-fuse"}},
		{title: "Watching:", names: []string{"metrics-addr", "audit-log", "pprof-addr"}},
		{title: "As mount(8) and /etc/fstab give them:", names: []string{"options"}, after: optionsHelp()},
	},
	footer: sizeUnitsHelp,
}

// register adds mount's flags to fs, with their defaults.
func (c *mountConfig) register(fs *pflag.FlagSet) {
	c.fileMode, c.dirMode = 0o644, 0o755
	c.cacheSize = 256 << 20
	c.partSize, c.writeBuffer = 8<<20, 256<<20
	c.uid, c.gid = uint(os.Getuid()), uint(os.Getgid())

	c.bucketFlags.register(fs)

	fs.BoolVar(&c.readOnly, "read-only", false, "mount read-only: every change answers EROFS")
	fs.BoolVar(&c.allowOther, "allow-other", false, "let users other than the mounting one use the mount\n"+
		"(non-root users need user_allow_other in /etc/fuse.conf)")
	fs.BoolVar(&c.allowRoot, "allow-root", false, "let root use the mount besides the mounting user, and nobody else\n"+
		"(non-root users need user_allow_other in /etc/fuse.conf; not with --allow-other)")
	fs.UintVar(&c.uid, "uid", c.uid, "owner `UID` of files and directories that carry no x-amz-meta-uid\n"+
		"(default: the mounting user's)")
	fs.UintVar(&c.gid, "gid", c.gid, "group `GID` of files and directories that carry no x-amz-meta-gid\n"+
		"(default: the mounting user's)")
	// Their defaults are this user's, not one number: --help and the man page say so.
	fs.Lookup("uid").DefValue, fs.Lookup("gid").DefValue = "", ""
	fs.Var(&c.fileMode, "file-mode", "permission `MODE` (octal) of files that carry no x-amz-meta-mode")
	fs.Var(&c.dirMode, "dir-mode", "permission `MODE` (octal) of directories that carry no x-amz-meta-mode")
	fs.Var(&c.umask, "umask", "permission bits (octal `MASK`) taken away from --file-mode and --dir-mode,\n"+
		"e.g. 027 for 0640 files and 0750 directories; objects that carry x-amz-meta-mode keep theirs")
	fs.Var(&c.cacheSize, "cache-size", "`SIZE` of the in-memory cache of decrypted pages (never on disk)")
	fs.Var(&c.partSize, "part-size", "`SIZE` of multipart upload parts: a multiple of 1MiB, 5MiB to 5GiB")
	fs.IntVar(&c.uploadConcurrency, "upload-concurrency", 4, "how many parts may upload at once, over all files (`N`)")
	fs.Var(&c.writeBuffer, "write-buffer", "`SIZE` of memory for unsaved writes of all open files together; a writer\n"+
		"that outruns the uploads waits. At least three parts.")
	fs.BoolVar(&c.overwriteConcurrent, "overwrite-concurrent", false, "let the last writer win when another machine replaced a file\n"+
		"since it was opened (default: keep both, saving ours as NAME.conflict-TIME)")
	fs.DurationVar(&c.statTTL, "stat-ttl", 60*time.Second, "how long a directory listing answers lookups; 0 caches nothing (every lookup asks S3)")
	fs.IntVar(&c.prefetchFiles, "prefetch-files", 16, "when the files of a directory are read in listing order (cp -r, rsync, tar),\n"+
		"fetch up to `N` next ones before they are opened, within an eighth of --cache-size; 0: off")

	fs.BoolVar(&c.allowNonEmpty, "allow-non-empty", false, "mount on a directory that holds files, hiding them while mounted")
	fs.BoolVar(&c.foreground, "foreground", false, "stay attached to the terminal and log to stderr")
	fs.StringVar(&c.logLevel, "log-level", "info", "`LEVEL` of logging: debug, info, warn or error")
	fs.StringVar(&c.logFile, "log-file", "", "append logs to `FILE` (created 0600); SIGHUP reopens it (logrotate). In the\n"+
		"background without it, logs go to syslog as ssecfs, or where there is no /dev/log to a\n"+
		"0600 file under $XDG_STATE_HOME/ssecfs (named when the mount starts)")
	fs.StringVar(&c.logFormat, "log-format", "text", "`FORMAT` of log lines: text or json")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics (no authentication:\n"+
		"keep it on loopback, e.g. 127.0.0.1:9101)")
	fs.StringVar(&c.auditLog, "audit-log", "", "append a JSON line to `FILE` (0600) for every request that carried a key:\n"+
		"operation, object, key fingerprint (never the key), bytes, outcome, uid and pid;\n"+
		"and for mounts and unmounts. SIGHUP reopens it")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "debugging: serve Go's profiler at http://`HOST:PORT`/debug/pprof/ (CPU and heap\n"+
		"profiles, goroutine stacks; no authentication: a non-loopback address is warned of)")
	fs.BoolVar(&c.debugFuse, "debug-fuse", false, "log every FUSE request (names and sizes, never data or keys)")

	fs.StringArrayVarP(&c.options, "options", "o", nil, "mount `OPTIONS`, separated by commas: every flag above by its name with _ for -\n"+
		"(key_file=/etc/ssecfs/key,read_only,uid=1000), and those mount(8) passes (below)")
}

// finish reads the positional arguments and the -o options, and checks what the flags
// say together.
func (c *mountConfig) finish(fs *pflag.FlagSet, args []string) error {
	if err := applyMountOptions(fs, c); err != nil {
		return err
	}
	if err := positional("BUCKET[/PREFIX]", "MOUNTPOINT")(nil, args); err != nil {
		return err
	}
	c.source, c.mountpoint = args[0], args[1]
	if err := c.target.set(c.source); err != nil {
		return err
	}
	switch {
	case c.statTTL < 0:
		return invalid(fmt.Errorf("--stat-ttl must not be negative"))
	case c.partSize < 5<<20 || c.partSize > 5<<30 || c.partSize%(1<<20) != 0:
		return invalid(fmt.Errorf("--part-size %v: want a multiple of 1MiB between 5MiB and 5GiB (S3's part limits)", &c.partSize))
	case c.writeBuffer < 3*c.partSize:
		return invalid(fmt.Errorf("--write-buffer %v: want at least three parts (3 x --part-size = %v)", &c.writeBuffer, formatBytes(3*int64(c.partSize))))
	case c.prefetchFiles < 0 || c.prefetchFiles > 1024:
		return invalid(fmt.Errorf("--prefetch-files %d: want 0 (off) to 1024", c.prefetchFiles))
	case c.uploadConcurrency < 1 || c.uploadConcurrency > 64:
		return invalid(fmt.Errorf("--upload-concurrency %d: want 1 to 64", c.uploadConcurrency))
	case logsink.CheckFormat(c.logFormat) != nil:
		return invalid(logsink.CheckFormat(c.logFormat))
	case c.allowOther && c.allowRoot:
		return invalid(fmt.Errorf("--allow-other and --allow-root exclude each other: --allow-other already lets root in, and everybody else"))
	}
	for _, m := range []struct {
		flag string
		mode fileMode
	}{{"--file-mode", c.fileMode}, {"--dir-mode", c.dirMode}} {
		if m.mode != 0 && m.mode&^c.umask == 0 {
			return invalid(fmt.Errorf("--umask %v leaves %s %v no permission at all, which ssecfs cannot show", &c.umask, m.flag, &m.mode))
		}
	}
	return nil
}

// defaultModes are the permission bits of files and directories without
// x-amz-meta-mode: the modes of the flags, less the umask.
func (c *mountConfig) defaultModes() (file, dir uint32) {
	return uint32(c.fileMode &^ c.umask), uint32(c.dirMode &^ c.umask)
}

// childArgs are the arguments of the background process of this mount: every flag
// that was set, by a flag or an -o option, with its value, and the kernel's options.
func (c *mountConfig) childArgs(fs *pflag.FlagSet) []string {
	args := []string{"mount", "--foreground"}
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "foreground", "options", "help":
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	if len(c.kernelOptions) > 0 {
		args = append(args, "-o", strings.Join(c.kernelOptions, ","))
	}
	return append(args, "--", c.source, c.mountpoint)
}
