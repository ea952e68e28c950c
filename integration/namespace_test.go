package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Tests of the namespace through a real mount: directories, unlink, rename, attributes,
// symlinks, and the tools (rsync, tar, editors, the shell) that use them together. Each
// checks the bucket with the SDK as well as the mount.

// nsMount mounts the fixture's bucket with a log file, and shows the log if the test
// fails, so a failure names what ssecfs saw.
func nsMount(t *testing.T, f *fixture, extra ...string) string {
	t.Helper()
	logFile := filepath.Join(f.dir, fmt.Sprintf("log-%d", time.Now().UnixNano()))
	mp := f.mount(append([]string{"--log-file", logFile}, extra...)...)
	t.Cleanup(func() {
		if t.Failed() {
			if log, err := os.ReadFile(logFile); err == nil && len(log) > 0 {
				t.Logf("ssecfs log of %s:\n%s", mp, logTail(string(log), 8000))
			}
		}
	})
	return mp
}

// nsHead is a HeadObject, with the fixture's key or without any. The metadata's names
// are lower-cased.
func nsHead(f *fixture, key string, withKey bool) (map[string]string, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(key)}
	if withKey {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = sseC(f.key)
	}
	out, err := f.s3.HeadObject(context.Background(), in)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return meta, nil
}

// nsCheckKeyed checks that an object opens with the key (HEAD and GET) and is refused
// without it, and returns its body.
func nsCheckKeyed(t *testing.T, f *fixture, key string) []byte {
	t.Helper()
	if _, err := nsHead(f, key, true); err != nil {
		t.Errorf("HeadObject %q with the key: %v", key, err)
	}
	if _, err := nsHead(f, key, false); err == nil {
		t.Errorf("HeadObject %q without the key succeeded; want it refused (the object must be SSE-C)", key)
	}
	if err := f.getObjectWithoutKey(key); err == nil {
		t.Errorf("GetObject %q without the key succeeded; want it refused", key)
	}
	body, err := f.getObject(key)
	if err != nil {
		t.Errorf("GetObject %q with the key: %v", key, err)
	}
	return body
}

func nsSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// nsNode is what a tree holds at one path.
type nsNode struct {
	kind   string // "dir", "file" or "link"
	perm   fs.FileMode
	mtime  int64 // seconds
	size   int64
	sum    string // sha256 of a file's content
	target string // a link's target
}

func (n nsNode) String() string {
	switch n.kind {
	case "file":
		return fmt.Sprintf("file %v mtime %d size %d sha256 %.12s", n.perm, n.mtime, n.size, n.sum)
	case "link":
		return "link -> " + n.target
	}
	return "dir"
}

// nsTree walks root (without following links) and describes every path under it.
func nsTree(t *testing.T, root string) map[string]nsNode {
	t.Helper()
	tree := map[string]nsNode{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		n := nsNode{perm: info.Mode().Perm(), mtime: info.ModTime().Unix(), size: info.Size()}
		switch {
		case info.IsDir():
			n = nsNode{kind: "dir"}
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			n = nsNode{kind: "link", target: target}
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n.kind, n.sum = "file", nsSum(data)
			if int64(len(data)) != n.size {
				return fmt.Errorf("%s: stat says %d bytes, read gives %d", p, n.size, len(data))
			}
		default:
			return fmt.Errorf("%s: unexpected mode %v", p, info.Mode())
		}
		tree[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return tree
}

// nsCompareTrees reports every path that differs between want and got; directories are
// compared by presence only (their modes and times are the mount's).
func nsCompareTrees(t *testing.T, what string, want, got map[string]nsNode) {
	t.Helper()
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	bad := 0
	for _, p := range paths {
		w, wok := want[p]
		g, gok := got[p]
		switch {
		case !gok:
			t.Errorf("%s: %s missing (want %v)", what, p, w)
		case !wok:
			t.Errorf("%s: %s unexpected (%v)", what, p, g)
		case w.kind == "dir" && g.kind == "dir":
			continue
		case w != g:
			t.Errorf("%s: %s is %v; want %v", what, p, g, w)
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Errorf("%s: more differences not shown", what)
			return
		}
	}
}

// nsRun runs a command (bounded in time) and returns its combined output.
func nsRun(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// nsWriteLocalTree writes files (path -> content) under root with their modes and
// mtimes (whole seconds), making directories as needed.
func nsWriteLocalTree(t *testing.T, root string, files map[string][]byte, modes map[string]fs.FileMode) {
	t.Helper()
	base := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	i := 0
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := modes[name]
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, files[name], mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		mt := base.Add(time.Duration(i) * 37 * time.Hour)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		i++
	}
}

// 1. mkdir writes keyed markers; rmdir refuses a non-empty directory and removes the
// marker of an empty one; mkdir of an existing directory is EEXIST.
func TestMkdirRmdir(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	p := func(s string) string { return filepath.Join(mp, s) }

	if err := os.MkdirAll(p("a/b/c"), 0o755); err != nil {
		t.Fatalf("MkdirAll a/b/c: %v", err)
	}
	want := []string{"a/", "a/b/", "a/b/c/"}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, want) {
		t.Fatalf("bucket holds %q after mkdir -p a/b/c; want the markers %q", got, want)
	}
	// SeaweedFS drops the user metadata of keys ending in "/"; the markers' mode is
	// checked only on a server that keeps it for the SDK too.
	f.putWith("control/", nil, &f.key, map[string]string{"mode": "16877"})
	ctl, _ := nsHead(f, "control/", true)
	keepsMarkerMeta := ctl["mode"] == "16877"
	if _, err := f.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("control/")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range want {
		if body := nsCheckKeyed(t, f, k); len(body) != 0 {
			t.Errorf("marker %q has a %d-byte body; want none", k, len(body))
		}
		meta, err := nsHead(f, k, true)
		if err == nil && keepsMarkerMeta && meta["mode"] != strconv.Itoa(syscall.S_IFDIR|0o755) {
			t.Errorf("marker %q: x-amz-meta-mode %q; want %d (S_IFDIR|0755)", k, meta["mode"], syscall.S_IFDIR|0o755)
		}
	}
	for _, d := range []string{"a", "a/b", "a/b/c"} {
		if st, err := os.Stat(p(d)); err != nil || !st.IsDir() {
			t.Errorf("stat %s through the mount: %v, %v; want a directory", d, st, err)
		}
	}

	// Not empty: a subdirectory, then only a file.
	if err := syscall.Rmdir(p("a/b")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir a/b holding a/b/c: %v; want ENOTEMPTY", err)
	}
	if err := os.WriteFile(p("a/b/c/file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Rmdir(p("a/b/c")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir a/b/c holding a file: %v; want ENOTEMPTY", err)
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"a/", "a/b/", "a/b/c/", "a/b/c/file"}) {
		t.Errorf("bucket after refused rmdirs: %q", got)
	}
	if err := os.Remove(p("a/b/c/file")); err != nil {
		t.Fatal(err)
	}

	// Empty: the marker goes, the parents stay.
	if err := syscall.Rmdir(p("a/b/c")); err != nil {
		t.Fatalf("rmdir of the empty a/b/c: %v", err)
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"a/", "a/b/"}) {
		t.Errorf("bucket after rmdir a/b/c holds %q; want a/ and a/b/", got)
	}
	if _, err := os.Stat(p("a/b/c")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat a/b/c after rmdir: %v; want ENOENT", err)
	}
	if names := readDirNames(t, p("a/b")); len(names) != 0 {
		t.Errorf("a/b lists %v after rmdir a/b/c; want nothing", names)
	}
	if names := readDirNames(t, p("a")); !mapsEqual(names, map[string]bool{"b": true}) {
		t.Errorf("a lists %v; want the directory b", names)
	}

	// Existing: a directory made here, and one made by another tool since this mount
	// last looked.
	if err := os.Mkdir(p("a"), 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("mkdir of the existing a: %v; want EEXIST", err)
	}
	if _, err := os.Stat(p("late")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("stat late before it exists: %v", err)
	}
	f.put("late/", nil)
	if err := os.Mkdir(p("late"), 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("mkdir of late, made by another tool meanwhile: %v; want EEXIST", err)
	}
	if got := bucketKeys(t, f, "late"); !slices.Equal(got, []string{"late/"}) {
		t.Errorf("after mkdir of an existing late: %q", got)
	}

	// All the way down to an empty bucket.
	for _, d := range []string{"a/b", "a", "late"} {
		if err := syscall.Rmdir(p(d)); err != nil {
			t.Errorf("rmdir %s: %v", d, err)
		}
	}
	if got := bucketKeys(t, f, ""); len(got) != 0 {
		t.Errorf("bucket after removing every directory: %q; want empty", got)
	}
}

// 2. rm deletes the object.
func TestUnlink(t *testing.T) {
	f := newFixture(t)
	f.put("byothers", []byte("written by another tool\n"))
	mp := nsMount(t, f)
	p := func(s string) string { return filepath.Join(mp, s) }

	if err := os.Mkdir(p("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"top", "d/inner", "d/keep"} {
		if err := os.WriteFile(p(name), []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"byothers", "d/", "d/inner", "d/keep", "top"}) {
		t.Fatalf("bucket before rm: %q", got)
	}
	for _, name := range []string{"top", "d/inner", "byothers"} {
		if err := os.Remove(p(name)); err != nil {
			t.Errorf("rm %s: %v", name, err)
		}
		if _, err := os.Stat(p(name)); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("stat %s after rm: %v; want ENOENT", name, err)
		}
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"d/", "d/keep"}) {
		t.Errorf("bucket after rm holds %q; want d/ and d/keep", got)
	}
	if names := readDirNames(t, mp); !mapsEqual(names, map[string]bool{"d": true}) {
		t.Errorf("root lists %v after rm; want only d", names)
	}
	if names := readDirNames(t, p("d")); !mapsEqual(names, map[string]bool{"keep": false}) {
		t.Errorf("d lists %v after rm; want only keep", names)
	}
	// A mount that never saw them does not either.
	fresh := nsMount(t, f)
	if _, err := os.Stat(filepath.Join(fresh, "top")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat top on a fresh mount: %v; want ENOENT", err)
	}
	if names := readDirNames(t, filepath.Join(fresh, "d")); !mapsEqual(names, map[string]bool{"keep": false}) {
		t.Errorf("d lists %v on a fresh mount; want only keep", names)
	}
	if err := os.Remove(p("nothing")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("rm of a name that does not exist: %v; want ENOENT", err)
	}
}

// 3. mv of a file: within a directory, across directories, over an existing file; the
// metadata moves with it.
func TestRenameFile(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	p := func(s string) string { return filepath.Join(mp, s) }
	for _, d := range []string{"d1", "d2"} {
		if err := os.Mkdir(p(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	alpha := randomBytes(100_000, 3)
	if err := os.WriteFile(p("a.txt"), alpha, 0o644); err != nil {
		t.Fatal(err)
	}

	// Within a directory.
	if err := os.Rename(p("a.txt"), p("b.txt")); err != nil {
		t.Fatalf("rename a.txt b.txt: %v", err)
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"b.txt", "d1/", "d2/"}) {
		t.Errorf("bucket after rename within a directory: %q", got)
	}
	if body := nsCheckKeyed(t, f, "b.txt"); !bytes.Equal(body, alpha) {
		t.Errorf("b.txt via the SDK: %d bytes, not the content written as a.txt", len(body))
	}
	if _, err := os.Stat(p("a.txt")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat a.txt after the rename: %v; want ENOENT", err)
	}

	// Across directories.
	if err := os.Rename(p("b.txt"), p("d1/c.txt")); err != nil {
		t.Fatalf("rename b.txt d1/c.txt: %v", err)
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"d1/", "d1/c.txt", "d2/"}) {
		t.Errorf("bucket after rename across directories: %q", got)
	}
	if got, err := os.ReadFile(p("d1/c.txt")); err != nil || !bytes.Equal(got, alpha) {
		t.Errorf("d1/c.txt through the mount: %d bytes, %v", len(got), err)
	}

	// Over an existing file: it is replaced, and one object is left.
	if err := os.WriteFile(p("d2/target"), []byte("the old target\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p("d2/target")); err != nil || string(got) != "the old target\n" {
		t.Fatalf("d2/target before: %q, %v", got, err)
	}
	if err := os.Rename(p("d1/c.txt"), p("d2/target")); err != nil {
		t.Fatalf("rename d1/c.txt over d2/target: %v", err)
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"d1/", "d2/", "d2/target"}) {
		t.Errorf("bucket after rename over an existing file: %q; want d1/, d2/, d2/target", got)
	}
	if body := nsCheckKeyed(t, f, "d2/target"); !bytes.Equal(body, alpha) {
		t.Errorf("d2/target via the SDK after the rename over it: %d bytes, not the source", len(body))
	}
	if got, err := os.ReadFile(p("d2/target")); err != nil || !bytes.Equal(got, alpha) {
		t.Errorf("d2/target through the mount after the rename over it: %d bytes %.20q, %v; want the source", len(got), got, err)
	}
	if names := readDirNames(t, p("d1")); len(names) != 0 {
		t.Errorf("d1 lists %v after its file moved away", names)
	}

	// Metadata goes with the object.
	if err := os.WriteFile(p("secret"), []byte("s3cr3t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p("secret"), p("d1/moved")); err != nil {
		t.Fatalf("rename secret d1/moved: %v", err)
	}
	if st, err := os.Stat(p("d1/moved")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("d1/moved on this mount: %v, %v; want mode 0600", st, err)
	}
	if meta, err := nsHead(f, "d1/moved", true); err != nil || meta["mode"] != strconv.Itoa(syscall.S_IFREG|0o600) {
		t.Errorf("d1/moved: x-amz-meta-mode %q, %v; want %d", meta["mode"], err, syscall.S_IFREG|0o600)
	}
	if body := nsCheckKeyed(t, f, "d1/moved"); string(body) != "s3cr3t\n" {
		t.Errorf("d1/moved via the SDK: %q", body)
	}
	if got := bucketKeys(t, f, "secret"); len(got) != 0 {
		t.Errorf("the old name is still in the bucket: %q", got)
	}
	fresh := nsMount(t, f)
	st, err := os.Stat(filepath.Join(fresh, "d1/moved"))
	if err != nil || st.Mode().Perm() != 0o600 || !st.Mode().IsRegular() {
		t.Errorf("stat d1/moved on a fresh mount, unlisted: %v, %v; want a regular file of mode 0600", st, err)
	}
	if _, err := os.Stat(filepath.Join(fresh, "secret")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat secret on a fresh mount: %v; want ENOENT", err)
	}
}

// 4. mv of a directory moves every object under it, large ones included: a tree made
// through the mount (with a marker per directory), and one written by another tool
// (prefixes only).
func TestRenameDirectory(t *testing.T) {
	files := map[string][]byte{}
	for i := range 20 {
		dir := []string{"tree", "tree/sub", "tree/sub/deeper", "tree/other"}[i%4]
		size := 1000*i + i
		if i%7 == 3 {
			size = 6 << 20
		}
		if i == 5 {
			size = 0
		}
		files[fmt.Sprintf("%s/f%02d", dir, i)] = randomBytes(size, uint64(100+i))
	}

	t.Run("made through the mount", func(t *testing.T) {
		f := newFixture(t)
		mp := nsMount(t, f)
		for _, d := range []string{"tree/sub/deeper", "tree/other", "tree/empty"} {
			if err := os.MkdirAll(filepath.Join(mp, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(mp, name), data, 0o644); err != nil {
				t.Fatalf("write %s: %v", name, err)
			}
		}
		// The files, and the markers tree/, sub/, deeper/, other/ and empty/.
		nsRenameTree(t, f, mp, files, 5, true)
	})

	t.Run("an empty directory", func(t *testing.T) {
		f := newFixture(t)
		mp := nsMount(t, f)
		if err := os.Mkdir(filepath.Join(mp, "empty"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(mp, "empty"), filepath.Join(mp, "moved")); err != nil {
			t.Errorf("mv empty moved: %v", err)
		}
		if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"moved/"}) {
			t.Errorf("bucket after mv empty moved: %q; want the marker moved/ only", got)
		}
		if st, err := os.Stat(filepath.Join(nsMount(t, f), "moved")); err != nil || !st.IsDir() {
			t.Errorf("stat moved on a fresh mount: %v, %v; want a directory", st, err)
		}
	})

	t.Run("written by another tool", func(t *testing.T) {
		f := newFixture(t)
		for name, data := range files {
			f.put(name, data)
		}
		mp := nsMount(t, f)
		nsRenameTree(t, f, mp, files, 0, false)
	})
}

// nsRenameTree moves tree to newtree through the mount and checks the bucket (every key
// under the new prefix, none under the old one, identical content) and the tree read
// back through this mount and a fresh one.
func nsRenameTree(t *testing.T, f *fixture, mp string, files map[string][]byte, markers int, hasEmpty bool) {
	t.Helper()
	before := bucketKeys(t, f, "tree/")
	if len(before) != len(files)+markers {
		t.Fatalf("bucket holds %d keys under tree/ before the rename; want %d: %q", len(before), len(files)+markers, before)
	}
	if err := os.Rename(filepath.Join(mp, "tree"), filepath.Join(mp, "newtree")); err != nil {
		t.Fatalf("mv tree newtree: %v", err)
	}

	if left := bucketKeys(t, f, "tree/"); len(left) != 0 {
		t.Errorf("keys left under tree/ after the rename: %q", left)
	}
	var wantKeys []string
	for _, k := range before {
		wantKeys = append(wantKeys, "new"+k)
	}
	if got := bucketKeys(t, f, "newtree/"); !slices.Equal(got, wantKeys) {
		t.Errorf("keys under newtree/: %q; want %q", got, wantKeys)
	}
	for name, data := range files {
		if body := nsCheckKeyed(t, f, "new"+name); !bytes.Equal(body, data) {
			t.Errorf("new%s via the SDK: %d bytes, want %d identical to the original", name, len(body), len(data))
		}
	}
	if _, err := os.Stat(filepath.Join(mp, "tree")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat tree after the rename: %v; want ENOENT", err)
	}

	check := func(what, root string) {
		t.Helper()
		got := map[string]string{}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			got["tree/"+filepath.ToSlash(rel)] = nsSum(data)
			return nil
		})
		if err != nil {
			t.Errorf("%s: walking newtree: %v", what, err)
		}
		if len(got) != len(files) {
			t.Errorf("%s: %d files under newtree; want %d", what, len(got), len(files))
		}
		for name, data := range files {
			if got[name] != nsSum(data) {
				t.Errorf("%s: new%s reads back differently (sha256 %.12s, want %.12s)", what, name, got[name], nsSum(data))
			}
		}
		if !hasEmpty {
			return
		}
		if st, err := os.Stat(filepath.Join(root, "empty")); err != nil || !st.IsDir() {
			t.Errorf("%s: newtree/empty: %v, %v; want a directory", what, st, err)
		}
	}
	check("this mount", filepath.Join(mp, "newtree"))
	check("a fresh mount", filepath.Join(nsMount(t, f), "newtree"))
}

// 5. chmod, chown and touch -d are kept in the object's metadata and read back by a
// later mount.
func TestAttributesPersist(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	file := filepath.Join(mp, "file")
	if err := os.WriteFile(file, []byte("attributes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatalf("chmod: %v", err)
	}
	if err := os.Chown(file, 1234, 5678); err != nil {
		t.Fatalf("chown: %v", err)
	}
	if out, err := nsRun(t, mp, []string{"TZ=UTC"}, "touch", "-d", "2001-02-03 04:05:06", file); err != nil {
		t.Fatalf("touch -d: %v\n%s", err, out)
	}
	const wantMtime = 981173106 // 2001-02-03 04:05:06 UTC

	check := func(what string, st os.FileInfo, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: stat: %v", what, err)
			return
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode() != 0o600 || sys.Uid != 1234 || sys.Gid != 5678 || st.ModTime().Unix() != wantMtime {
			t.Errorf("%s: mode %v uid %d gid %d mtime %d (%v); want -rw------- 1234 5678 %d",
				what, st.Mode(), sys.Uid, sys.Gid, st.ModTime().Unix(), st.ModTime().UTC(), wantMtime)
		}
	}
	st, err := os.Stat(file)
	check("this mount", st, err)

	meta, err := nsHead(f, "file", true)
	if err != nil {
		t.Fatalf("HeadObject with the key: %v", err)
	}
	for name, want := range map[string]string{"mode": "33152", "uid": "1234", "gid": "5678"} {
		if meta[name] != want {
			t.Errorf("x-amz-meta-%s = %q; want %q", name, meta[name], want)
		}
	}
	if whole, frac, _ := strings.Cut(meta["mtime"], "."); whole != strconv.Itoa(wantMtime) || strings.Trim(frac, "0") != "" {
		t.Errorf("x-amz-meta-mtime = %q; want %d", meta["mtime"], wantMtime)
	}
	if body := nsCheckKeyed(t, f, "file"); string(body) != "attributes\n" {
		t.Errorf("content after the attribute changes: %q", body)
	}

	// A fresh mount, looking the name up without listing it first.
	fresh := nsMount(t, f)
	st, err = os.Stat(filepath.Join(fresh, "file"))
	check("a fresh mount", st, err)
}

// 6. Symbolic links are objects holding their target, as s3fs stores them; hard links
// are refused.
func TestSymlinks(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	p := func(s string) string { return filepath.Join(mp, s) }
	if err := os.MkdirAll(p("dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("dir/real.txt"), []byte("the real file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"rel":       "dir/real.txt",
		"dir/up":    "../dir/real.txt",
		"abs":       "/etc/hostname",
		"dangling":  "no/such/file",
		"dir/space": "a name with spaces & ünïcödé",
	}
	for name, target := range links {
		if err := os.Symlink(target, p(name)); err != nil {
			t.Fatalf("ln -s %s %s: %v", target, name, err)
		}
	}
	for name, target := range links {
		if got, err := os.Readlink(p(name)); err != nil || got != target {
			t.Errorf("readlink %s: %q, %v; want %q", name, got, err, target)
		}
		if st, err := os.Lstat(p(name)); err != nil || st.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("lstat %s: %v, %v; want a symlink", name, st, err)
		}
		meta, err := nsHead(f, name, true)
		if err != nil || meta["mode"] != "41471" {
			t.Errorf("%s: x-amz-meta-mode %q, %v; want 41471 (S_IFLNK|0777)", name, meta["mode"], err)
		}
		if body := nsCheckKeyed(t, f, name); string(body) != target {
			t.Errorf("%s: object body %q; want the target %q", name, body, target)
		}
	}
	for _, name := range []string{"rel", "dir/up"} {
		if got, err := os.ReadFile(p(name)); err != nil || string(got) != "the real file\n" {
			t.Errorf("reading through %s: %q, %v", name, got, err)
		}
	}
	if err := os.Symlink("elsewhere", p("rel")); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("ln -s over an existing link: %v; want EEXIST", err)
	}

	// A fresh mount, reading the links without listing first.
	fresh := nsMount(t, f)
	for name, target := range links {
		if got, err := os.Readlink(filepath.Join(fresh, name)); err != nil || got != target {
			t.Errorf("fresh mount: readlink %s: %q, %v; want %q", name, got, err, target)
		}
	}
	if got, err := os.ReadFile(filepath.Join(fresh, "rel")); err != nil || string(got) != "the real file\n" {
		t.Errorf("fresh mount: reading through rel: %q, %v", got, err)
	}
	// (A link first seen through a listing on a mount that did not write it shows as a
	// small file until looked up on its own: listings carry no metadata, and ls -l stays
	// free of per-entry HEADs. The README says so.)

	if err := os.Link(p("dir/real.txt"), p("hard")); !errors.Is(err, syscall.EPERM) {
		t.Errorf("ln (a hard link): %v; want EPERM", err)
	}
	if got := bucketKeys(t, f, "hard"); len(got) != 0 {
		t.Errorf("a refused hard link left %q in the bucket", got)
	}
}

// 7. rsync -a copies a tree in, keeping content, modes, times and links; a second run
// finds nothing to transfer.
func TestRsyncTwice(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	src := t.TempDir()

	files := map[string][]byte{}
	modes := map[string]fs.FileMode{}
	sizes := []int{0, 1, 2, 100, 511, 512, 4096, 65536, 1<<20 - 1, 1 << 20, 1<<20 + 1, 7 << 20, 0, 10, 3 << 20}
	for i := range 30 {
		dir := []string{"", "a/", "a/b/", "a/b/c/", "d/"}[i%5]
		name := fmt.Sprintf("%sfile%02d.dat", dir, i)
		files[name] = randomBytes(sizes[i%len(sizes)], uint64(500+i))
		modes[name] = []fs.FileMode{0o644, 0o600, 0o755, 0o640}[i%4]
	}
	nsWriteLocalTree(t, src, files, modes)
	if err := os.MkdirAll(filepath.Join(src, "empty/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../d/file04.dat", filepath.Join(src, "a", "link")); err != nil {
		t.Fatal(err)
	}
	want := nsTree(t, src)

	dst := filepath.Join(mp, "dst")
	start := time.Now()
	out, err := nsRun(t, "", nil, "rsync", "-a", "--stats", src+"/", dst+"/")
	if err != nil {
		t.Fatalf("first rsync: %v\n%s", err, out)
	}
	t.Logf("first rsync took %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "Number of regular files transferred: 30") {
		t.Errorf("first rsync did not transfer the 30 files:\n%s", out)
	}
	nsCompareTrees(t, "through the mount", want, nsTree(t, dst))

	for name, data := range files {
		if body := nsCheckKeyed(t, f, "dst/"+name); !bytes.Equal(body, data) {
			t.Errorf("dst/%s via the SDK: %d bytes, want %d identical", name, len(body), len(data))
		}
		meta, err := nsHead(f, "dst/"+name, true)
		if err != nil {
			continue
		}
		if wantMode := strconv.Itoa(int(syscall.S_IFREG | uint32(modes[name]))); meta["mode"] != wantMode {
			t.Errorf("dst/%s: x-amz-meta-mode %q; want %s", name, meta["mode"], wantMode)
		}
		if whole, _, _ := strings.Cut(meta["mtime"], "."); whole != strconv.FormatInt(want[name].mtime, 10) {
			t.Errorf("dst/%s: x-amz-meta-mtime %q; want %d", name, meta["mtime"], want[name].mtime)
		}
	}
	if body := nsCheckKeyed(t, f, "dst/a/link"); string(body) != "../d/file04.dat" {
		t.Errorf("dst/a/link via the SDK: %q; want the link's target", body)
	}
	var tmp []string
	for _, k := range bucketKeys(t, f, "dst/") {
		if strings.Contains(nsBase(k), ".file") {
			tmp = append(tmp, k)
		}
	}
	if len(tmp) > 0 {
		t.Errorf("rsync's temporary files were left in the bucket: %q", tmp)
	}

	start = time.Now()
	out, err = nsRun(t, "", nil, "rsync", "-a", "--stats", src+"/", dst+"/")
	if err != nil {
		t.Fatalf("second rsync: %v\n%s", err, out)
	}
	t.Logf("second rsync took %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "Number of regular files transferred: 0") {
		t.Errorf("second rsync transferred files again; want none:\n%s", out)
	}
	nsCompareTrees(t, "through the mount after the second rsync", want, nsTree(t, dst))
}

func nsBase(key string) string {
	return key[strings.LastIndex(key, "/")+1:]
}

// 8. tar extracts into the mount, and a tar made from the mount extracts to the same
// tree.
func TestTarInAndOut(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	src, work := t.TempDir(), t.TempDir()

	files := map[string][]byte{
		"README":             []byte("a small text file\n"),
		"empty":              nil,
		"bin/tool":           randomBytes(300_000, 7),
		"data/big.bin":       randomBytes(9<<20+123, 8),
		"data/mid.bin":       randomBytes(2<<20, 9),
		"data/deep/x/y/z.md": []byte("# deep\n"),
		"with space/ä ö.txt": []byte("names with spaces and umlauts\n"),
	}
	nsWriteLocalTree(t, src, files, map[string]fs.FileMode{"bin/tool": 0o755, "data/mid.bin": 0o600})
	if err := os.Symlink("data/big.bin", filepath.Join(src, "big-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(mp, "x")
	if err := os.Mkdir(x, 0o755); err != nil {
		t.Fatal(err)
	}

	in := fmt.Sprintf("tar -C '%s' -cf - . | tar -C '%s' -xf -", src, x)
	if out, err := nsRun(t, "", nil, "sh", "-c", in); err != nil {
		t.Fatalf("%s: %v\n%s", in, err, out)
	}
	for name, data := range files {
		if body := nsCheckKeyed(t, f, "x/"+name); !bytes.Equal(body, data) {
			t.Errorf("x/%s via the SDK: %d bytes, want %d identical", name, len(body), len(data))
		}
	}
	nsCompareTrees(t, "extracted into the mount", nsTree(t, src), nsTree(t, x))

	outTar := filepath.Join(work, "out.tar")
	if out, err := nsRun(t, "", nil, "tar", "-C", x, "-cf", outTar, "."); err != nil {
		t.Fatalf("tar -cf from the mount: %v\n%s", err, out)
	}
	back := filepath.Join(work, "back")
	if err := os.Mkdir(back, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := nsRun(t, "", nil, "tar", "-C", back, "-xf", outTar); err != nil {
		t.Fatalf("tar -xf out.tar: %v\n%s", err, out)
	}
	if out, err := nsRun(t, "", nil, "diff", "-r", "--no-dereference", src, back); err != nil {
		t.Errorf("diff -r of the original and the tree tarred from the mount: %v\n%s", err, out)
	}
	nsCompareTrees(t, "tarred from the mount and extracted", nsTree(t, src), nsTree(t, back))
}

// 9. An editor saves by writing a swap file beside the document and renaming it over.
func TestEditorRenameOver(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	dir := filepath.Join(mp, "notes")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	doc, swp := filepath.Join(dir, "doc.txt"), filepath.Join(dir, ".doc.txt.swp")
	oldText := []byte("first draft\n")
	if err := os.WriteFile(doc, oldText, 0o644); err != nil {
		t.Fatal(err)
	}
	// The editor reads the document and keeps it open while saving.
	open, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if got, err := os.ReadFile(doc); err != nil || !bytes.Equal(got, oldText) {
		t.Fatalf("reading doc.txt: %q, %v", got, err)
	}

	newText := bytes.Repeat([]byte("second draft, much longer than the first\n"), 1000)
	w, err := os.OpenFile(swp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(newText); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Errorf("fsync of the swap file: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("close of the swap file: %v", err)
	}
	if err := os.Rename(swp, doc); err != nil {
		t.Fatalf("rename .doc.txt.swp doc.txt: %v", err)
	}

	if got, err := os.ReadFile(doc); err != nil || !bytes.Equal(got, newText) {
		t.Errorf("doc.txt through the mount after the save: %d bytes %.20q, %v; want the new text", len(got), got, err)
	}
	if body := nsCheckKeyed(t, f, "notes/doc.txt"); !bytes.Equal(body, newText) {
		t.Errorf("doc.txt via the SDK after the save: %d bytes %.20q; want the new text", len(body), body)
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"notes/", "notes/doc.txt"}) {
		t.Errorf("bucket after the save: %q; want notes/ and notes/doc.txt only", got)
	}
	if names := readDirNames(t, dir); !mapsEqual(names, map[string]bool{"doc.txt": false}) {
		t.Errorf("notes lists %v; want doc.txt only", names)
	}
	// A second save the same way, on a fresh mount.
	fresh := filepath.Join(nsMount(t, f), "notes")
	third := []byte("third draft\n")
	if err := os.WriteFile(filepath.Join(fresh, ".doc.txt.swp"), third, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(fresh, ".doc.txt.swp"), filepath.Join(fresh, "doc.txt")); err != nil {
		t.Fatalf("second save: %v", err)
	}
	if body, err := f.getObject("notes/doc.txt"); err != nil || !bytes.Equal(body, third) {
		t.Errorf("doc.txt via the SDK after the second save: %q, %v", body, err)
	}
	if got, err := os.ReadFile(filepath.Join(fresh, "doc.txt")); err != nil || !bytes.Equal(got, third) {
		t.Errorf("doc.txt through the fresh mount after the second save: %q, %v", got, err)
	}
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"notes/", "notes/doc.txt"}) {
		t.Errorf("bucket after the second save: %q", got)
	}
}

// 10. Shell redirection, append, truncate and dd conv=notrunc give the bytes they give
// on a local disk.
func TestShellRedirectionAndAppend(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	local := t.TempDir()

	expect := func(name string, want []byte) {
		t.Helper()
		if got, err := os.ReadFile(filepath.Join(mp, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s through the mount: %d bytes %.40q, %v; want %d bytes %.40q", name, len(got), got, err, len(want), want)
		}
		if body := nsCheckKeyed(t, f, name); !bytes.Equal(body, want) {
			t.Errorf("%s via the SDK: %d bytes %.40q; want %d bytes %.40q", name, len(body), body, len(want), want)
		}
	}
	run := func(script string) {
		t.Helper()
		for _, dir := range []string{local, mp} {
			if out, err := nsRun(t, dir, nil, "sh", "-c", script); err != nil {
				t.Fatalf("in %s: sh -c %q: %v\n%s", dir, script, err, out)
			}
		}
	}

	run(`echo one > f; echo two >> f; printf three >> f`)
	expect("f", []byte("one\ntwo\nthree"))
	run(`truncate -s 3 f`)
	expect("f", []byte("one"))
	run(`truncate -s 10 f`)
	expect("f", []byte("one\x00\x00\x00\x00\x00\x00\x00"))
	run(`printf more >> f`)
	expect("f", []byte("one\x00\x00\x00\x00\x00\x00\x00more"))

	run(`dd if=/dev/zero of=g bs=1M count=6 status=none`)
	// Four bytes in the middle, across the boundary of two 1 MiB pages, then two more
	// near the end; the file keeps its size.
	run(`printf abcd | dd of=g bs=1 seek=3145726 conv=notrunc status=none`)
	run(`printf XY | dd of=g bs=1 seek=6291450 conv=notrunc status=none`)
	want, err := os.ReadFile(filepath.Join(local, "g"))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 6<<20 || string(want[3145726:3145730]) != "abcd" {
		t.Fatalf("the local reference is wrong: %d bytes", len(want))
	}
	expect("g", want)
	if st, err := os.Stat(filepath.Join(mp, "g")); err != nil || st.Size() != 6<<20 {
		t.Errorf("stat g: %v, %v; want 6 MiB", st, err)
	}

	// Overwrite with > of an existing, longer file truncates it.
	run(`echo short > g`)
	expect("g", []byte("short\n"))
}

// 11. Files written at the same time by different writers each arrive whole.
func TestConcurrentWritersOfDifferentFiles(t *testing.T) {
	f := newFixture(t)
	mp := nsMount(t, f)
	if err := os.Mkdir(filepath.Join(mp, "par"), 0o755); err != nil {
		t.Fatal(err)
	}
	const n, size = 8, 3 << 20
	data := make([][]byte, n)
	for i := range n {
		data[i] = randomBytes(size, uint64(900+i))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Written in 128 KiB pieces, as cp does, so the writes interleave.
			w, err := os.Create(filepath.Join(mp, "par", fmt.Sprintf("w%d", i)))
			if err != nil {
				errs[i] = err
				return
			}
			for off := 0; off < size; off += 128 << 10 {
				if _, err := w.Write(data[i][off:min(off+128<<10, size)]); err != nil {
					w.Close()
					errs[i] = err
					return
				}
			}
			errs[i] = w.Close()
		}()
	}
	wg.Wait()
	t.Logf("8 concurrent writers of 3 MiB took %v", time.Since(start).Round(time.Millisecond))
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("par/w%d", i))
	}
	if got := bucketKeys(t, f, "par/"); !slices.Equal(got, append([]string{"par/"}, want...)) {
		t.Errorf("bucket under par/: %q", got)
	}
	for i := range n {
		key := fmt.Sprintf("par/w%d", i)
		if body := nsCheckKeyed(t, f, key); !bytes.Equal(body, data[i]) {
			t.Errorf("%s via the SDK: %d bytes, not what writer %d wrote", key, len(body), i)
		}
		if got, err := os.ReadFile(filepath.Join(mp, key)); err != nil || !bytes.Equal(got, data[i]) {
			t.Errorf("%s through the mount: %d bytes, %v", key, len(got), err)
		}
	}
}
