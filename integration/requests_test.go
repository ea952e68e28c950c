package integration

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/fs"
	"github.com/ssecfs/ssecfs/keysrc"
)

// requestLog watches every request the mount sends. A data request (one that names an
// object: GET, HEAD, PUT, POST, and copies) without the SSE-C key header is a leak of
// the invariant "every data request is keyed".
type requestLog struct {
	mu      sync.Mutex
	unkeyed []string
	keyed   int
	lists   int
	heads   int
	gets    int
}

func (l *requestLog) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		l.note(req)
		return next.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (l *requestLog) note(req *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Path-style: /BUCKET or /BUCKET/KEY. Only requests that name an object carry data.
	_, object, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if object == "" {
		if req.URL.Query().Has("list-type") {
			l.lists++
		}
		return
	}
	switch req.Method {
	case http.MethodHead:
		l.heads++
	case http.MethodGet:
		l.gets++
	}
	keyed := req.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key") != "" &&
		req.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key-Md5") != ""
	copySource := req.Header.Get("X-Amz-Copy-Source") != ""
	if copySource && req.Header.Get("X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key") == "" {
		keyed = false
	}
	if keyed {
		l.keyed++
	} else {
		l.unkeyed = append(l.unkeyed, req.Method+" "+req.URL.Path)
	}
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unkeyed, l.keyed, l.lists, l.heads, l.gets = nil, 0, 0, 0, 0
}

func (l *requestLog) snapshot() (keyed, lists, heads, gets int, unkeyed []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keyed, l.lists, l.heads, l.gets, append([]string(nil), l.unkeyed...)
}

// mountInProcess mounts the fixture's bucket inside the test process, the way the
// binary does (default fs options), with the transport wrapped by wrap.
func (f *fixture) mountInProcess(keys *keysrc.Keyring, wrap func(http.RoundTripper) http.RoundTripper) string {
	f.t.Helper()
	for _, kv := range f.srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		f.t.Setenv(k, v)
	}
	ctx := context.Background()
	store, err := bucket.Open(ctx, bucket.Config{
		Bucket:        f.bucket,
		Endpoint:      f.srv.Endpoint,
		CABundle:      f.srv.CAFile,
		Keyring:       keys,
		WrapTransport: wrap,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := store.Check(ctx, ""); err != nil {
		f.t.Fatal(err)
	}
	mp, err := os.MkdirTemp(f.dir, "inproc")
	if err != nil {
		f.t.Fatal(err)
	}
	pages, err := cache.New(64<<20, cache.Options{PageSize: 1 << 20, FetchTimeout: time.Minute})
	if err != nil {
		f.t.Fatal(err)
	}
	tree := fs.New(fs.BucketStore(store), pages, fs.Options{})
	server, err := fs.Mount(mp, tree, fs.MountOptions{FsName: "ssecfs-test"})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			unmount(f.t, mp)
		}
	})
	return mp
}

// Every request that touches object data carries the SSE-C headers, whatever the
// workload: listing, stat, whole and ranged reads, a wrong-key object, a keyring.
func TestEveryDataRequestIsKeyed(t *testing.T) {
	f := newFixture(t)
	other := newKey(t)
	f.put("dir/a.txt", []byte("a\n"))
	f.put("dir/sub/b.bin", randomBytes(3<<20+5, 5))
	f.putMultipart("dir/multi", randomBytes(11<<20, 6), 5<<20)
	f.putWith("dir/old-key", []byte("older\n"), &other, nil)
	f.putWith("dir/third-key", []byte("third\n"), ptr(newKey(t)), nil)

	keys, err := keysrc.NewKeyring(f.key, other)
	if err != nil {
		t.Fatal(err)
	}
	var log requestLog
	mp := f.mountInProcess(keys, log.wrap)

	for _, cmd := range [][]string{
		{"ls", "-lR", mp},
		{"find", mp, "-type", "f"},
		{"cat", filepath.Join(mp, "dir/a.txt"), filepath.Join(mp, "dir/old-key")},
		{"dd", "if=" + filepath.Join(mp, "dir/multi"), "of=/dev/null", "bs=1M", "skip=4", "count=3"},
		{"sha256sum", filepath.Join(mp, "dir/sub/b.bin"), filepath.Join(mp, "dir/multi")},
		{"stat", filepath.Join(mp, "dir/unlisted-name")},
	} {
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		if err != nil && cmd[0] != "stat" {
			t.Errorf("%v: %v\n%s", cmd, err, out)
		}
	}
	if _, err := os.ReadFile(filepath.Join(mp, "dir/third-key")); err == nil {
		t.Errorf("read an object under a key the mount does not have")
	}

	keyed, lists, heads, gets, unkeyed := log.snapshot()
	t.Logf("requests seen: %d keyed data requests (%d HEAD, %d GET), %d listings, %d unkeyed", keyed, heads, gets, lists, len(unkeyed))
	if len(unkeyed) != 0 {
		t.Errorf("%d data requests without SSE-C headers: %v", len(unkeyed), unkeyed)
	}
	if keyed == 0 || gets == 0 || heads == 0 || lists == 0 {
		t.Errorf("the workload did not reach S3 as expected (keyed %d, GET %d, HEAD %d, list %d): the check proves nothing", keyed, gets, heads, lists)
	}
}

// Every request a writing workload sends that moves object data carries the SSE-C key:
// creates small and multipart, an edit that tries UploadPartCopy and falls back, mkdir,
// rename, chmod (a keyed self-copy), symlink, rm. Deletes carry no key: S3 takes none.
func TestEveryWriteRequestIsKeyed(t *testing.T) {
	f := newFixture(t)
	editOrig := randomBytes(12*wpMiB, 20)
	f.put("edit.bin", editOrig)
	keys, err := keysrc.NewKeyring(f.key)
	if err != nil {
		t.Fatal(err)
	}
	var log wpRequestLog
	mp := f.mountInProcess(keys, log.wrap)
	p := func(s string) string { return filepath.Join(mp, s) }

	small := []byte("a small file\n")
	big := randomBytes(20*wpMiB, 21)
	patch := randomBytes(64<<10, 22)
	editWant := wpPatched(editOrig, patch, 10*wpMiB+4096) // the first 8 MiB part is untouched
	if err := os.WriteFile(p("small.txt"), small, 0o644); err != nil {
		t.Fatalf("create small.txt: %v", err)
	}
	if err := os.WriteFile(p("big.bin"), big, 0o644); err != nil {
		t.Fatalf("create big.bin: %v", err)
	}
	if got, err := f.getObject("big.bin"); err != nil || !bytes.Equal(got, big) {
		t.Errorf("big.bin in S3: %v, %s", err, wpDiff(got, big))
	}
	ef, err := os.OpenFile(p("edit.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ef.WriteAt(patch, 10*wpMiB+4096); err != nil {
		t.Fatalf("edit.bin: %v", err)
	}
	if err := ef.Close(); err != nil {
		t.Fatalf("close edit.bin: %v", err)
	}
	ops := []struct {
		what string
		op   func() error
	}{
		{"mkdir d", func() error { return os.Mkdir(p("d"), 0o755) }},
		{"rename small.txt d/small.txt", func() error { return os.Rename(p("small.txt"), p("d/small.txt")) }},
		{"chmod edit.bin 0600", func() error { return os.Chmod(p("edit.bin"), 0o600) }},
		{"symlink link -> d/small.txt", func() error { return os.Symlink("d/small.txt", p("link")) }},
		{"rm big.bin", func() error { return os.Remove(p("big.bin")) }},
	}
	for _, o := range ops {
		if err := o.op(); err != nil {
			t.Errorf("%s: %v", o.what, err)
		}
	}

	c := log.counts()
	t.Logf("requests seen: %d keyed data requests (%d PUT, %d POST, %d GET, %d HEAD; %d copies, %d UploadPartCopy answered %v), %d DELETE, %d listings, %d unkeyed",
		c.keyed, c.puts, c.posts, c.gets, c.heads, c.copies, c.partCopies, c.partCopyStatus, c.deletes, c.lists, len(c.unkeyed))
	if len(c.unkeyed) != 0 {
		t.Errorf("%d data requests without SSE-C headers: %v", len(c.unkeyed), c.unkeyed)
	}
	if c.puts == 0 || c.posts == 0 || c.copies == 0 || c.partCopies == 0 || c.deletes < 2 || c.gets == 0 {
		t.Errorf("the workload did not reach S3 as expected (PUT %d, POST %d, copies %d, UploadPartCopy %d, DELETE %d, GET %d): the check proves less than it should",
			c.puts, c.posts, c.copies, c.partCopies, c.deletes, c.gets)
	}

	// What the workload left, seen with the SDK and through the mount.
	if got := bucketKeys(t, f, ""); !slices.Equal(got, []string{"d/", "d/small.txt", "edit.bin", "link"}) {
		t.Errorf("bucket holds %v; want [d/ d/small.txt edit.bin link]", got)
	}
	wpCheckAll(t, f, mp, "d/small.txt", small)
	wpCheckAll(t, f, mp, "edit.bin", editWant)
	if head, err := wpHead(f, "edit.bin"); err != nil || head.Metadata["mode"] != strconv.Itoa(syscall.S_IFREG|0o600) {
		t.Errorf("edit.bin metadata after chmod: %v, %v; want mode %d", wpMeta(head), err, syscall.S_IFREG|0o600)
	}
	if st, err := os.Stat(p("edit.bin")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("edit.bin through the mount after chmod: %v, %v; want 0600", st, err)
	}
	if got, err := f.getObject("link"); err != nil || string(got) != "d/small.txt" {
		t.Errorf("link object: %q, %v; want the target d/small.txt", got, err)
	}
	if target, err := os.Readlink(p("link")); err != nil || target != "d/small.txt" {
		t.Errorf("readlink through the mount: %q, %v", target, err)
	}
	if _, err := os.Stat(p("big.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("big.bin after rm: %v; want ENOENT", err)
	}
	for _, k := range []string{"d/small.txt", "edit.bin", "link"} {
		if err := f.getObjectWithoutKey(k); err == nil {
			t.Errorf("%s is readable without the key", k)
		}
	}
}

// wpRequestLog is requestLog for writing workloads: it also counts the kinds of writes,
// and leaves DELETE requests (DeleteObject, AbortMultipartUpload) out of the keyed check,
// since they move no data and S3 takes no key on them.
type wpRequestLog struct {
	requestLog
	mu             sync.Mutex
	puts, posts    int
	deletes        int
	copies         int
	partCopies     int
	partCopyStatus []int
}

type wpCounts struct {
	keyed, lists, heads, gets    int
	unkeyed                      []string
	puts, posts, deletes, copies int
	partCopies                   int
	partCopyStatus               []int
}

func (l *wpRequestLog) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		_, object, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		partCopy := false
		if object != "" {
			l.mu.Lock()
			switch req.Method {
			case http.MethodPut:
				l.puts++
			case http.MethodPost:
				l.posts++
			case http.MethodDelete:
				l.deletes++
			}
			if req.Header.Get("X-Amz-Copy-Source") != "" {
				l.copies++
				if req.URL.Query().Has("partNumber") {
					l.partCopies++
					partCopy = true
				}
			}
			l.mu.Unlock()
		}
		if req.Method != http.MethodDelete {
			l.requestLog.note(req)
		}
		resp, err := next.RoundTrip(req)
		if partCopy && resp != nil {
			l.mu.Lock()
			l.partCopyStatus = append(l.partCopyStatus, resp.StatusCode)
			l.mu.Unlock()
		}
		return resp, err
	})
}

func (l *wpRequestLog) counts() wpCounts {
	var c wpCounts
	c.keyed, c.lists, c.heads, c.gets, c.unkeyed = l.requestLog.snapshot()
	l.mu.Lock()
	defer l.mu.Unlock()
	c.puts, c.posts, c.deletes, c.copies, c.partCopies = l.puts, l.posts, l.deletes, l.copies, l.partCopies
	c.partCopyStatus = append([]int(nil), l.partCopyStatus...)
	return c
}

// ls -l of a large directory sends list requests only: the attributes come from the
// listing, never from a HEAD per entry.
func TestListingSendsNoHeads(t *testing.T) {
	f := newFixture(t)
	const n = 1500
	f.putMany("big/", n)
	keys, _ := keysrc.NewKeyring(f.key)
	var log requestLog
	mp := f.mountInProcess(keys, log.wrap)

	if _, err := os.ReadDir(mp); err != nil { // lists the root, so "big" is known
		t.Fatal(err)
	}
	log.reset()
	out, err := exec.Command("ls", "-l", filepath.Join(mp, "big")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(out), "\n"); got != n+1 {
		t.Fatalf("ls -l printed %d lines, want %d", got, n+1)
	}
	_, lists, heads, gets, _ := log.snapshot()
	t.Logf("ls -l of %d entries: %d list requests, %d HEAD, %d GET", n, lists, heads, gets)
	if heads != 0 || gets != 0 {
		t.Errorf("ls -l sent %d HEAD and %d GET requests; want none", heads, gets)
	}
	if want := (n + 999) / 1000; lists < want || lists > want+1 {
		t.Errorf("ls -l sent %d list requests; want about %d", lists, want)
	}
}

func ptr[T any](v T) *T { return &v }

// A file opened again while its object is unchanged keeps the kernel's page cache
// (FOPEN_KEEP_CACHE): its pages are still resident after the new open. Once the object
// changes, the open drops them and the new version is read.
func TestKernelCacheKeptWhileUnchanged(t *testing.T) {
	f := newFixture(t)
	v1 := randomBytes(3<<20, 31)
	f.put("doc", v1)
	mp := f.mount()
	path := filepath.Join(mp, "doc")

	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, v1) {
		t.Fatalf("first read: %d bytes, %v", len(got), err)
	}
	if resident, total := residentPages(t, path); resident != total {
		t.Errorf("reopened unchanged: %d of %d pages still in the kernel's cache; want all", resident, total)
	}

	v2 := randomBytes(3<<20, 32)
	f.put("doc", v2)
	time.Sleep(1100 * time.Millisecond) // the kernel's attribute cache
	if resident, total := residentPages(t, path); resident == total {
		t.Errorf("reopened after the object changed: all %d pages still cached; want them dropped", total)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, v2) {
		t.Errorf("after the object changed: %d bytes, equal to the new version %v, %v", len(got), bytes.Equal(got, v2), err)
	}
}

// residentPages opens path and reports how many of its pages the kernel holds in its
// page cache (mincore), without reading it.
func residentPages(t *testing.T, path string) (resident, total int) {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	st, _ := file.Stat()
	data, err := syscall.Mmap(int(file.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(data)
	vec := make([]byte, (len(data)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident++
		}
	}
	return resident, len(vec)
}
