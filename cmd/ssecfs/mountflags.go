package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// mountConfig is everything `ssecfs mount` was told.
type mountConfig struct {
	target
	mountpoint string
	bucketFlags

	readOnly, allowOther, foreground bool
	uid, gid                         uint
	fileMode, dirMode                fileMode
	cacheSize                        byteSize
	partSize, writeBuffer            byteSize
	uploadConcurrency                int
	overwriteConcurrent              bool
	statTTL                          time.Duration
	logLevel, logFile                string
	debugFuse                        bool
}

const mountUsage = `Usage: ssecfs mount [flags] BUCKET[/PREFIX] MOUNTPOINT

Mounts BUCKET (or only the keys under PREFIX) at MOUNTPOINT. Without --foreground it
returns once the mount is live (exit 0) or has failed (non-zero, with the reason), and
the filesystem keeps running in the background until unmounted (umount MOUNTPOINT).

Before mounting it checks that the endpoint answers over TLS, the credentials are
accepted, the bucket exists and can be listed, and the keys are well formed.

Keys (exactly one source; each holds one or more keys, the first writes and is tried
first, the others are older keys tried on reads):
`

func newMountFlags(c *mountConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("ssecfs mount", flag.ContinueOnError)
	c.fileMode, c.dirMode = 0o644, 0o755
	c.cacheSize = 256 << 20
	c.partSize, c.writeBuffer = 8<<20, 256<<20
	c.uid, c.gid = uint(os.Getuid()), uint(os.Getgid())

	c.bucketFlags.register(fs)

	fs.BoolVar(&c.readOnly, "read-only", false, "mount read-only: every change answers EROFS")
	fs.BoolVar(&c.allowOther, "allow-other", false, "let users other than the mounting one use the mount\n"+
		"(non-root users need user_allow_other in /etc/fuse.conf)")
	fs.UintVar(&c.uid, "uid", c.uid, "owner `UID` of files and directories that carry no x-amz-meta-uid")
	fs.UintVar(&c.gid, "gid", c.gid, "group `GID` of files and directories that carry no x-amz-meta-gid")
	fs.Var(&c.fileMode, "file-mode", "permission `MODE` (octal) of files that carry no x-amz-meta-mode")
	fs.Var(&c.dirMode, "dir-mode", "permission `MODE` (octal) of directories")
	fs.Var(&c.cacheSize, "cache-size", "`SIZE` of the in-memory cache of decrypted pages (never on disk)")
	fs.Var(&c.partSize, "part-size", "`SIZE` of multipart upload parts: a multiple of 1MiB, 5MiB to 5GiB")
	fs.IntVar(&c.uploadConcurrency, "upload-concurrency", 4, "how many parts may upload at once, over all files (`N`)")
	fs.Var(&c.writeBuffer, "write-buffer", "`SIZE` of memory for unsaved writes of all open files together; a writer\n"+
		"that outruns the uploads waits. At least three parts.")
	fs.BoolVar(&c.overwriteConcurrent, "overwrite-concurrent", false, "let the last writer win when another machine replaced a file\n"+
		"since it was opened (default: keep both, saving ours as NAME.conflict-TIME)")
	fs.DurationVar(&c.statTTL, "stat-ttl", 60*time.Second, "how long a directory listing answers lookups; 0 caches nothing (every lookup asks S3)")

	fs.BoolVar(&c.foreground, "foreground", false, "stay attached to the terminal and log to stderr")
	fs.StringVar(&c.logLevel, "log-level", "info", "`LEVEL` of logging: debug, info, warn or error")
	fs.StringVar(&c.logFile, "log-file", "", "append logs to `FILE` (created 0600). In the background without it,\n"+
		"logs are discarded once the mount is live.")
	fs.BoolVar(&c.debugFuse, "debug-fuse", false, "log every FUSE request (names and sizes, never data or keys)")

	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, mountUsage)
		printFlags(fs, keyFlagNames...)
		printWhereFlags(fs)
		fmt.Fprintln(out, "\nHow it looks:")
		printFlags(fs, "read-only", "allow-other", "uid", "gid", "file-mode", "dir-mode", "cache-size", "stat-ttl")
		fmt.Fprintln(out, "\nWriting (data reaches S3 when a file is closed or fsync'd):")
		printFlags(fs, "part-size", "upload-concurrency", "write-buffer", "overwrite-concurrent")
		fmt.Fprintln(out, "\nRunning:")
		printFlags(fs, "foreground", "log-level", "log-file", "debug-fuse")
		fmt.Fprintln(out, "\n"+sizeUnitsHelp)
	}
	return fs
}

// parseMountArgs reads the command line into a mountConfig.
func parseMountArgs(args []string) (*mountConfig, error) {
	c := &mountConfig{}
	fs := newMountFlags(c)
	rest, err := parseCommandLine(fs, args, &c.target, "MOUNTPOINT")
	if err != nil {
		return nil, err
	}
	c.mountpoint = rest[0]
	if c.statTTL < 0 {
		return nil, fmt.Errorf("--stat-ttl must not be negative")
	}
	if c.partSize < 5<<20 || c.partSize > 5<<30 || c.partSize%(1<<20) != 0 {
		return nil, fmt.Errorf("--part-size %v: want a multiple of 1MiB between 5MiB and 5GiB (S3's part limits)", &c.partSize)
	}
	if c.writeBuffer < 3*c.partSize {
		return nil, fmt.Errorf("--write-buffer %v: want at least three parts (3 x --part-size = %v)", &c.writeBuffer, formatBytes(3*int64(c.partSize)))
	}
	if c.uploadConcurrency < 1 || c.uploadConcurrency > 64 {
		return nil, fmt.Errorf("--upload-concurrency %d: want 1 to 64", c.uploadConcurrency)
	}
	return c, nil
}
