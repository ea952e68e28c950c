package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// probeTimeout bounds how long a FUSE mount found on the mount point may take to answer
// statfs before it counts as hung rather than live or dead.
const probeTimeout = 5 * time.Second

// maxStacked bounds how many dead mounts stacked on one directory we clear.
const maxStacked = 8

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	point  string // where it is mounted, unescaped
	fstype string // e.g. "fuse.ssecfs", "tmpfs"
	source string // e.g. "ssecfs:bucket/prefix/"
}

func (e mountEntry) isFUSE() bool {
	return e.fstype == "fuse" || e.fstype == "fuseblk" || strings.HasPrefix(e.fstype, "fuse.") || strings.HasPrefix(e.fstype, "fuseblk.")
}

// mountpointOps are what prepareMountpoint does to the system, replaceable in tests.
type mountpointOps struct {
	mounts func() ([]mountEntry, error) // the mount table, in mount order
	stat   func(dir string) (os.FileInfo, error)
	probe  func(dir string) error           // asks the filesystem at dir to answer (statfs)
	detach func(dir string) error           // lazy unmount
	entry  func(dir string) (string, error) // a name in dir, or "" when it is empty
}

var systemMountpointOps = mountpointOps{
	mounts: readMountinfo,
	stat:   os.Stat,
	probe:  statfsWithin(probeTimeout),
	detach: detachMount,
	entry:  anyEntry,
}

// prepareMountpoint refuses what cannot be mounted on, with the reason. A dead FUSE
// mount left on dir by a process that ended without unmounting (kill -9, a crash) is
// cleared with a lazy unmount and one log line; a live mount of any filesystem is
// refused, and so is a directory that holds anything unless allowNonEmpty, since
// mounting over either would hide what is there.
func prepareMountpoint(dir string, allowNonEmpty bool, logger *slog.Logger) error {
	return systemMountpointOps.prepare(dir, allowNonEmpty, logger)
}

func (o mountpointOps) prepare(dir string, allowNonEmpty bool, logger *slog.Logger) error {
	abs := canonicalDir(dir)
	for cleared := 0; ; cleared++ {
		table, err := o.mounts()
		if err != nil {
			return fmt.Errorf("mountpoint %s: reading the mount table: %w", dir, err)
		}
		var top *mountEntry
		for i := range table {
			if table[i].point == abs {
				top = &table[i] // the last one listed is the one on top
			}
		}
		switch {
		case top == nil:
			st, err := o.stat(dir)
			if !deadConnection(err) {
				if err := checkDir(dir, st, err); err != nil || allowNonEmpty {
					return err
				}
				return o.checkEmpty(dir)
			}
			// A dead FUSE mount that our mount table names differently: clear it too.
		case !top.isFUSE():
			return alreadyMounted(dir, *top)
		default:
			// Not stat: for a second after its process died the kernel may still answer
			// it from its cache, and a hung process would never answer. statfs always
			// asks the process, and is bounded.
			switch err := o.probe(dir); {
			case deadConnection(err):
			case errors.Is(err, errProbeTimeout):
				return fmt.Errorf("mountpoint %s is a FUSE mount (%s) that does not answer: unmount it first with umount -l %s "+
					"(or fusermount3 -uz %s as a non-root user)", dir, top.source, dir, dir)
			default:
				return alreadyMounted(dir, *top)
			}
		}
		if cleared == maxStacked {
			return fmt.Errorf("mountpoint %s is still a dead FUSE mount after clearing %d: run umount -l %s until it is gone", dir, cleared, dir)
		}
		if err := o.detach(abs); err != nil {
			return fmt.Errorf("mountpoint %s is a dead FUSE mount left by a process that ended without unmounting, "+
				"and clearing it failed (%v): run umount -l %s (or fusermount3 -uz %s) first", dir, err, dir, dir)
		}
		logger.Warn("cleared a dead FUSE mount left on the mountpoint by a process that ended without unmounting",
			"mountpoint", dir)
	}
}

// deadConnection reports whether err is what a FUSE mount answers once its process is
// gone (ENOTCONN) or its connection was aborted (ECONNABORTED).
func deadConnection(err error) bool {
	return errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED)
}

func alreadyMounted(dir string, e mountEntry) error {
	what := e.fstype
	if e.source != "" && e.source != "none" {
		what += " " + e.source
	}
	return fmt.Errorf("mountpoint %s is already mounted (%s): unmount it first (umount %s, or fusermount3 -u %s "+
		"as a non-root user), or mount somewhere else", dir, what, dir, dir)
}

// checkDir refuses a mount point that is not an existing directory.
func checkDir(dir string, st os.FileInfo, err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("mountpoint %s does not exist: create it with mkdir -p %s", dir, dir)
	case err != nil:
		return fmt.Errorf("mountpoint: %w", err)
	case !st.IsDir() && strings.HasPrefix(dir, "/dev/fd/"):
		return fmt.Errorf("mountpoint %s is not a directory: mount.fuse3's drop_privileges is not supported", dir)
	case !st.IsDir():
		return fmt.Errorf("mountpoint %s is not a directory", dir)
	}
	return nil
}

// checkEmpty refuses a directory that holds anything.
func (o mountpointOps) checkEmpty(dir string) error {
	name, err := o.entry(dir)
	switch {
	case err != nil:
		return fmt.Errorf("mountpoint %s: cannot tell whether it is empty (%v): mounting over it would hide what it holds; "+
			"use --allow-non-empty (-o nonempty) to mount anyway", dir, err)
	case name != "":
		return fmt.Errorf("mountpoint %s is not empty (it holds %s): mounting over it would hide what it holds; "+
			"empty it, mount somewhere else, or use --allow-non-empty (-o nonempty)", dir, name)
	}
	return nil
}

// anyEntry is the name of an entry of dir, or "" when it is empty.
func anyEntry(dir string) (string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return "", err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return names[0], nil
}

// canonicalDir is dir as the mount table names it: absolute, clean, symbolic links
// resolved. A dead mount point cannot be resolved itself (stat fails), so then only
// its parent is.
func canonicalDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.Clean(dir)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	if parent, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(parent, filepath.Base(abs))
	}
	return abs
}

// readMountinfo reads this process's mount table.
func readMountinfo() ([]mountEntry, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountinfo(string(data)), nil
}

// parseMountinfo parses /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTIONS
// [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS", with space, tab, newline and backslash
// in paths written as octal escapes.
func parseMountinfo(data string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(data, "\n") {
		fields := strings.Fields(line)
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+2 >= len(fields) {
			continue
		}
		out = append(out, mountEntry{
			point:  unescapeMountinfo(fields[4]),
			fstype: fields[sep+1],
			source: unescapeMountinfo(fields[sep+2]),
		})
	}
	return out
}

func unescapeMountinfo(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

var errProbeTimeout = errors.New("no answer")

// statfsWithin returns a probe that statfs's a directory and gives up after limit (a
// hung FUSE process never answers; the call is left behind, and ends when we exit).
func statfsWithin(limit time.Duration) func(string) error {
	return func(dir string) error {
		done := make(chan error, 1)
		go func() {
			var st syscall.Statfs_t
			done <- syscall.Statfs(dir, &st)
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(limit):
			return errProbeTimeout
		}
	}
}

// detachMount lazily unmounts dir: with umount2(MNT_DETACH) as root, else with
// fusermount3 -uz, which lets a user unmount their own FUSE mounts.
func detachMount(dir string) error {
	if os.Geteuid() == 0 {
		return syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	out, err := exec.Command("fusermount3", "-uz", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fusermount3 -uz: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
