package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseMountinfo(t *testing.T) {
	data := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
42 22 0:39 / /tmp/with\040space rw,relatime - tmpfs none rw
43 42 0:40 / /tmp/with\040space rw,nosuid,nodev,relatime shared:5 master:2 - fuse.ssecfs ssecfs:b/p/ rw,user_id=0,group_id=0
44 22 0:41 / /mnt/x rw - fuse sshfs#host: rw
garbage line
45 22 0:42 / /mnt/y rw -
`
	got := parseMountinfo(data)
	want := []mountEntry{
		{"/", "ext4", "/dev/sda1"},
		{"/tmp/with space", "tmpfs", "none"},
		{"/tmp/with space", "fuse.ssecfs", "ssecfs:b/p/"},
		{"/mnt/x", "fuse", "sshfs#host:"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	for fstype, fuse := range map[string]bool{"fuse": true, "fuse.ssecfs": true, "fuseblk": true, "fusectl": false, "tmpfs": false, "ext4": false} {
		if (mountEntry{fstype: fstype}).isFUSE() != fuse {
			t.Errorf("isFUSE(%s) != %v", fstype, fuse)
		}
	}
}

// fakeMounts is a mount table with a liveness for each FUSE mount.
type fakeMounts struct {
	dir      string // an existing directory, the mount point
	stack    []fakeMount
	detached int
	failWith error // from detach
}

type fakeMount struct {
	fstype string
	probe  error // what statfs answers
	stat   error // what stat answers (nil: the directory)
}

func (m *fakeMounts) ops() mountpointOps {
	return mountpointOps{
		mounts: func() ([]mountEntry, error) {
			table := []mountEntry{{point: "/", fstype: "ext4", source: "/dev/sda1"}}
			for _, e := range m.stack {
				table = append(table, mountEntry{point: m.dir, fstype: e.fstype, source: "src"})
			}
			return table, nil
		},
		stat: func(dir string) (os.FileInfo, error) {
			if len(m.stack) > 0 && m.stack[len(m.stack)-1].stat != nil {
				return nil, &fs.PathError{Op: "stat", Path: dir, Err: m.stack[len(m.stack)-1].stat}
			}
			return os.Stat(dir)
		},
		probe: func(dir string) error {
			if len(m.stack) == 0 {
				return nil
			}
			return m.stack[len(m.stack)-1].probe
		},
		entry: anyEntry,
		detach: func(dir string) error {
			if dir != m.dir {
				return fmt.Errorf("detach of %s, want %s", dir, m.dir)
			}
			if m.failWith != nil {
				return m.failWith
			}
			if len(m.stack) > 0 {
				m.stack = m.stack[:len(m.stack)-1]
			}
			m.detached++
			return nil
		},
	}
}

func TestPrepareMountpoint(t *testing.T) {
	dead := fakeMount{fstype: "fuse.ssecfs", probe: syscall.ENOTCONN}
	deadStat := fakeMount{fstype: "fuse.ssecfs", probe: syscall.ENOTCONN, stat: syscall.ENOTCONN}
	aborted := fakeMount{fstype: "fuse.ssecfs", probe: syscall.ECONNABORTED}
	live := fakeMount{fstype: "fuse.ssecfs"}
	for _, tc := range []struct {
		name     string
		stack    []fakeMount
		failWith error
		detached int
		files    []string // in the directory under the mounts
		nonEmpty bool     // --allow-non-empty
		err      []string // substrings of the error; nil: no error
	}{
		{name: "plain directory"},
		{name: "directory with a file", files: []string{"precious"}, err: []string{"not empty (it holds precious)", "--allow-non-empty (-o nonempty)"}},
		{name: "directory with a hidden file", files: []string{".hidden"}, err: []string{"not empty (it holds .hidden)"}},
		{name: "directory with a file, --allow-non-empty", files: []string{"precious"}, nonEmpty: true},
		{name: "dead mount over a directory with a file", stack: []fakeMount{dead}, files: []string{"x"}, detached: 1, err: []string{"not empty"}},
		{name: "live mount, --allow-non-empty", stack: []fakeMount{live}, nonEmpty: true, err: []string{"already mounted"}},
		{name: "dead, stat still cached", stack: []fakeMount{dead}, detached: 1},
		{name: "dead, stat says ENOTCONN", stack: []fakeMount{deadStat}, detached: 1},
		{name: "aborted connection", stack: []fakeMount{aborted}, detached: 1},
		{name: "two dead stacked", stack: []fakeMount{dead, dead}, detached: 2},
		{name: "dead on top of a live one", stack: []fakeMount{live, dead}, detached: 1, err: []string{"already mounted (fuse.ssecfs src)", "unmount it first"}},
		{name: "live FUSE mount", stack: []fakeMount{live}, err: []string{"already mounted (fuse.ssecfs src)", "unmount it first", "umount "}},
		{name: "live tmpfs", stack: []fakeMount{{fstype: "tmpfs"}}, err: []string{"already mounted (tmpfs src)", "unmount it first"}},
		{name: "foreign FUSE mount refuses statfs", stack: []fakeMount{{fstype: "fuse", probe: syscall.EACCES}}, err: []string{"already mounted"}},
		{name: "hung FUSE mount", stack: []fakeMount{{fstype: "fuse.sshfs", probe: errProbeTimeout}}, err: []string{"does not answer", "umount -l"}},
		{name: "clearing fails", stack: []fakeMount{dead}, failWith: syscall.EPERM, err: []string{"dead FUSE mount", "clearing it failed", "umount -l"}},
		{name: "endless dead mounts", stack: func() []fakeMount {
			s := make([]fakeMount, maxStacked+1)
			for i := range s {
				s[i] = dead
			}
			return s
		}(), detached: maxStacked, err: []string{"still a dead FUSE mount", "umount -l"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range tc.files {
				os.WriteFile(filepath.Join(dir, name), nil, 0o600)
			}
			m := &fakeMounts{dir: canonicalDir(dir), stack: tc.stack, failWith: tc.failWith}
			var log bytes.Buffer
			err := m.ops().prepare(dir, tc.nonEmpty, slog.New(slog.NewTextHandler(&log, nil)))
			if m.detached != tc.detached {
				t.Errorf("detached %d mounts, want %d", m.detached, tc.detached)
			}
			if n := strings.Count(log.String(), "cleared a dead FUSE mount"); n != m.detached {
				t.Errorf("%d log lines for %d mounts cleared:\n%s", n, m.detached, log.String())
			}
			if tc.err == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.err)
			}
			for _, want := range append(tc.err, dir) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// With the real mount table: a directory is fine, a missing one or a file is refused,
// and (as root) a live mount on it is refused, not mounted over.
func TestPrepareMountpointForReal(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(new(bytes.Buffer), nil))
	dir := t.TempDir()
	if err := prepareMountpoint(dir, false, logger); err != nil {
		t.Errorf("empty directory: %v", err)
	}
	if err := prepareMountpoint(filepath.Join(dir, "nope"), false, logger); err == nil || !strings.Contains(err.Error(), "mkdir -p") {
		t.Errorf("missing directory: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if err := prepareMountpoint(file, false, logger); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file: %v", err)
	}
	if err := prepareMountpoint(dir, false, logger); err == nil || !strings.Contains(err.Error(), "not empty (it holds file)") {
		t.Errorf("directory with a file: %v; want it refused as not empty", err)
	}
	if err := prepareMountpoint(dir, true, logger); err != nil {
		t.Errorf("directory with a file, --allow-non-empty: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mp := filepath.Join(dir, "mp")
	os.Mkdir(mp, 0o755)
	if err := syscall.Mount("ssecfs-test", mp, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	defer syscall.Unmount(mp, syscall.MNT_DETACH)
	// Through a relative path and a symbolic link too: the mount table has the real path.
	link := filepath.Join(dir, "link")
	os.Symlink(mp, link)
	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, mp)
	for _, p := range []string{mp, link, rel, mp + "/"} {
		err := prepareMountpoint(p, true, logger)
		if err == nil || !strings.Contains(err.Error(), "already mounted (tmpfs ssecfs-test)") {
			t.Errorf("%s: %v; want it refused as already mounted", p, err)
		}
	}
}

func TestStatfsWithinTimesOut(t *testing.T) {
	if err := statfsWithin(time.Second)(t.TempDir()); err != nil {
		t.Errorf("statfs of a directory: %v", err)
	}
	if err := statfsWithin(time.Second)(filepath.Join(t.TempDir(), "x")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("statfs of nothing: %v", err)
	}
}
