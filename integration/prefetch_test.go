package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/fs"
	"github.com/ssecfs/ssecfs/keysrc"
)

// The next-file prefetch and the opens without HEAD (fs/prefetch.go, fs/file.go), for
// real: a FUSE mount in the test process against the server, whose requests are logged
// in order with the test's own opens, so that what was fetched before a file was opened
// is counted, not timed.

// pfLog is every request the mount sends that names an object, in order, with its
// answer's status, and the test's marks ("open KEY") among them.
type pfLog struct {
	mu      sync.Mutex
	entries []pfEntry
}

type pfEntry struct {
	method, key, ifMatch string
	status               int // 0 until answered; -1 for a mark
}

func (l *pfLog) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		// Path-style: /BUCKET/KEY.
		_, key, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		if key == "" {
			return next.RoundTrip(req)
		}
		l.mu.Lock()
		i := len(l.entries)
		l.entries = append(l.entries, pfEntry{method: req.Method, key: key, ifMatch: req.Header.Get("If-Match")})
		l.mu.Unlock()
		resp, err := next.RoundTrip(req)
		status := 599
		if resp != nil {
			status = resp.StatusCode
		}
		l.mu.Lock()
		l.entries[i].status = status
		l.mu.Unlock()
		return resp, err
	})
}

// mark records that the test is about to open key.
func (l *pfLog) mark(key string) {
	l.mu.Lock()
	l.entries = append(l.entries, pfEntry{method: "open", key: key, status: -1})
	l.mu.Unlock()
}

// count is how many requests method of key (any key if "", any under key if it ends in
// "/") were answered status (any if 0; any success if statusOK).
func (l *pfLog) count(method, key string, status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.entries {
		under := strings.HasSuffix(key, "/") && strings.HasPrefix(e.key, key)
		if e.method == method && (key == "" || e.key == key || under) && (status == 0 || e.status == status || status == statusOK && e.status/100 == 2) {
			n++
		}
	}
	return n
}

// getBeforeOpen says whether a GET of key was sent before the test's first open of it.
func (l *pfLog) getBeforeOpen(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		switch {
		case e.key != key:
		case e.method == http.MethodGet:
			return true
		case e.method == "open":
			return false
		}
	}
	return false
}

// statusOK stands for any 2xx status (a ranged GET is answered 206, or 200).
const statusOK = 2

// waitFetched waits (bounded) until a GET of key was answered with its bytes.
func (l *pfLog) waitFetched(key string) bool {
	return pollUntil(30*time.Second, func() bool { return l.count(http.MethodGet, key, statusOK) > 0 })
}

// pfCacheObserver counts the page cache's read-ahead (prefetches included).
type pfCacheObserver struct{ used, wasted atomic.Int64 }

func (o *pfCacheObserver) CachePageHit()                  {}
func (o *pfCacheObserver) CachePageMiss()                 {}
func (o *pfCacheObserver) CachePageEvicted()              {}
func (o *pfCacheObserver) CacheReadAheadUsed(bytes int)   { o.used.Add(int64(bytes)) }
func (o *pfCacheObserver) CacheReadAheadWasted(bytes int) { o.wasted.Add(int64(bytes)) }

// mountPrefetch mounts the fixture's bucket in the test process with opts and a page
// cache of cacheSize (default page and read-ahead sizes, as the binary has), logging
// the requests in log.
func (f *fixture) mountPrefetch(opts fs.Options, cacheSize int64, log *pfLog, obs cache.Observer) (string, *fs.FS, *cache.PageCache) {
	f.t.Helper()
	for _, kv := range f.srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		f.t.Setenv(k, v)
	}
	keys, err := keysrc.NewKeyring(f.key)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx := context.Background()
	store, err := bucket.Open(ctx, bucket.Config{
		Bucket: f.bucket, Endpoint: f.srv.Endpoint, CABundle: f.srv.CAFile, Keyring: keys, WrapTransport: log.wrap,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	mp, err := os.MkdirTemp(f.dir, "prefetch")
	if err != nil {
		f.t.Fatal(err)
	}
	pages, err := cache.New(cacheSize, cache.Options{FetchTimeout: time.Minute, Observer: obs})
	if err != nil {
		f.t.Fatal(err)
	}
	tree := fs.New(fs.BucketStore(store), pages, opts)
	server, err := fs.Mount(mp, tree, fs.MountOptions{FsName: "ssecfs-prefetch-test"})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			unmount(f.t, mp)
		}
		pages.Close()
	})
	return mp, tree, pages
}

// putFiles writes n objects prefix+name(i) of size(i) random bytes and returns them.
func (f *fixture) putFiles(prefix string, n int, size func(int) int) map[string][]byte {
	f.t.Helper()
	want := make(map[string][]byte)
	var mu sync.Mutex
	atOnce(n, 8, func(i int) {
		key := fmt.Sprintf("%sf%03d", prefix, i)
		data := randomBytes(size(i), uint64(1000+i))
		f.put(key, data)
		mu.Lock()
		want[key] = data
		mu.Unlock()
	})
	return want
}

// readInOrder reads every file of dir (the mount's path of prefix) in the order of
// names, marking each open in log, and checks each against want.
func readInOrder(t *testing.T, mp, prefix string, names []string, want map[string][]byte, log *pfLog) {
	t.Helper()
	for _, name := range names {
		key := prefix + name
		log.mark(key)
		got, err := os.ReadFile(filepath.Join(mp, key))
		if err != nil || !bytes.Equal(got, want[key]) {
			t.Errorf("%s: %d bytes, %v; want its %d bytes (the current version: %v)", key, len(got), err, len(want[key]), bytes.Equal(got, want[key]))
		}
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Files read in listing order have the next ones fetched before they are opened, each
// pinned with If-Match to the ETag its listing gave: two files replaced between the
// listing and their open (one larger, one smaller) are read as their new versions,
// whole, never the old ones, and never zero-padded or cut at the listed size. The
// opens send no HEAD but for the two replaced files.
func TestPrefetchIsVersionPinned(t *testing.T) {
	f := newFixture(t)
	const n = 24
	want := f.putFiles("ds/", n, func(i int) int { return 96<<10 + 100*i })
	var log pfLog
	mp, tree, _ := f.mountPrefetch(fs.Options{}, 64<<20, &log, nil)
	names := dirNames(t, filepath.Join(mp, "ds"))
	if len(names) != n {
		t.Fatalf("listed %d files; want %d", len(names), n)
	}
	replaced := map[string][]byte{
		"ds/f012": randomBytes(300<<10+7, 1), // larger than listed: must not be cut
		"ds/f017": randomBytes(20<<10+3, 2),  // smaller: must not be padded
	}
	for key, data := range replaced {
		f.put(key, data)
		want[key] = data
	}
	readInOrder(t, mp, "ds/", names, want, &log)

	s := tree.PrefetchStats()
	t.Logf("prefetch: %+v", s)
	for key := range replaced {
		if got := log.count(http.MethodGet, key, http.StatusPreconditionFailed); got < 1 {
			t.Errorf("%s: %d GET answered 412; want the listed version refused at least once", key, got)
		}
		if got := log.count(http.MethodHead, key, 0); got != 1 {
			t.Errorf("%s: %d HEAD; want one, to learn the new version", key, got)
		}
	}
	if heads := log.count(http.MethodHead, "ds/", 0); heads != len(replaced) {
		t.Errorf("%d HEAD of files in all; want %d (opens of listed files ask nothing)", heads, len(replaced))
	}
	prefetched := 0
	for i, name := range names {
		key := "ds/" + name
		if _, ok := replaced[key]; ok {
			continue
		}
		if gets := log.count(http.MethodGet, key, 0); gets != 1 {
			t.Errorf("%s: %d GET; want one (the prefetch's pages read from the cache)", key, gets)
		}
		if i >= 2 && log.getBeforeOpen(key) {
			prefetched++
		}
	}
	if s.Files < n-4 || prefetched < (n-4)/2 || s.Relearned != int64(len(replaced)) {
		t.Errorf("%d files prefetched, %d of them fetched before their open, %d handles moved to a new version; want at least %d, %d, and %d",
			s.Files, prefetched, s.Relearned, n-4, (n-4)/2, len(replaced))
	}
}

// A file replaced after it was prefetched is read as its new version once its listing
// is older than --stat-ttl: its open learns the current version, and the pages of the
// old one are never served.
func TestPrefetchedFileReplacedThenListingStale(t *testing.T) {
	f := newFixture(t)
	const n = 10
	want := f.putFiles("ds/", n, func(int) int { return 64 << 10 })
	var log pfLog
	mp, tree, _ := f.mountPrefetch(fs.Options{StatTTL: 2 * time.Second}, 64<<20, &log, nil)
	names := dirNames(t, filepath.Join(mp, "ds"))
	readInOrder(t, mp, "ds/", names[:3], want, &log) // the walk fetches f003 to f006 ahead
	target := "ds/" + names[5]
	if !log.waitFetched(target) {
		t.Fatalf("%s was not prefetched (%+v)", target, tree.PrefetchStats())
	}
	want[target] = randomBytes(80<<10, 3)
	f.put(target, want[target])
	time.Sleep(2500 * time.Millisecond) // past --stat-ttl: the listing no longer answers
	readInOrder(t, mp, "ds/", names[3:], want, &log)
	if got := log.count(http.MethodGet, target, statusOK); got != 2 {
		t.Errorf("%s: %d GET answered; want 2 (the prefetch of the old version, the read of the new)", target, got)
	}
}

// shuffledNoWalk is a random order of 0..n-1 in which no index follows the one before
// it by 1 to 3 places: opens that never look like a walk through the listing.
func shuffledNoWalk(n int, r *rand.Rand) []int {
	for {
		p := r.Perm(n)
		ok := true
		for i := 1; i < n && ok; i++ {
			d := p[i] - p[i-1]
			ok = d <= 0 || d > 3
		}
		if ok {
			return p
		}
	}
}

// Files opened in a shuffled order, or backwards, have nothing fetched ahead: each is
// fetched once, by its own read.
func TestPrefetchStopsOnRandomAccess(t *testing.T) {
	f := newFixture(t)
	const n = 40
	want := f.putFiles("ds/", n, func(int) int { return 32 << 10 })
	var log pfLog
	mp, tree, _ := f.mountPrefetch(fs.Options{}, 64<<20, &log, nil)
	names := dirNames(t, filepath.Join(mp, "ds"))
	var shuffled []string
	for _, i := range shuffledNoWalk(n, rand.New(rand.NewPCG(12, 34))) {
		shuffled = append(shuffled, names[i])
	}
	readInOrder(t, mp, "ds/", shuffled, want, &log)
	if s := tree.PrefetchStats(); s.Files != 0 {
		t.Errorf("opened in the order %v: %+v; want nothing prefetched", shuffled, s)
	}
	if gets := log.count(http.MethodGet, "", 0); gets != n {
		t.Errorf("%d GET for %d files; want one each", gets, n)
	}

	// Backwards, after the pages are gone (another version of each file).
	for key := range want {
		want[key] = randomBytes(32<<10, uint64(len(key)))
		f.put(key, want[key])
	}
	os.ReadDir(filepath.Join(mp, "ds")) // a listing that shows the new versions
	reversed := make([]string, 0, n)
	for i := n - 1; i >= 0; i-- {
		reversed = append(reversed, names[i])
	}
	readInOrder(t, mp, "ds/", reversed, want, &log)
	if s := tree.PrefetchStats(); s.Files != 0 {
		t.Errorf("opened backwards: %+v; want nothing prefetched", s)
	}
}

// Many files read in order through a small cache: the bytes prefetched and not yet
// opened stay within an eighth of the cache, nothing fetched ahead is evicted unread,
// each file is fetched once, and every file reads right.
func TestPrefetchStaysWithinTheCacheBudget(t *testing.T) {
	f := newFixture(t)
	const n, size = 48, 200 << 10
	want := f.putFiles("ds/", n, func(int) int { return size })
	var log pfLog
	var obs pfCacheObserver
	mp, tree, pages := f.mountPrefetch(fs.Options{PrefetchFiles: 64}, 4<<20, &log, &obs)
	names := dirNames(t, filepath.Join(mp, "ds"))
	for _, name := range names {
		readInOrder(t, mp, "ds/", []string{name}, want, &log)
		if held, capacity := pages.Held(), pages.Capacity(); held > capacity {
			t.Fatalf("the cache holds %d bytes, more than its %d", held, capacity)
		}
	}
	s := tree.PrefetchStats()
	t.Logf("prefetch: %+v; read-ahead used %d, wasted %d bytes", s, obs.used.Load(), obs.wasted.Load())
	if s.Files < n/2 || s.AheadMax > pages.Capacity()/8 || s.AheadMax < size {
		t.Errorf("%+v; want at least %d files prefetched, at most %d bytes ahead", s, n/2, pages.Capacity()/8)
	}
	if obs.wasted.Load() != 0 || obs.used.Load() < int64(n/2)*size {
		t.Errorf("read-ahead used %d, wasted %d bytes; want nothing wasted", obs.used.Load(), obs.wasted.Load())
	}
	for key := range want {
		if gets := log.count(http.MethodGet, key, 0); gets != 1 {
			t.Errorf("%s: %d GET; want one", key, gets)
		}
	}
}

// cp -r out of a mount made by the binary: the copy is whole, the opens send no HEAD,
// and files were prefetched (ssecfs_prefetch_files_total); with --prefetch-files 0 none
// are.
func TestPrefetchCpR(t *testing.T) {
	f := newFixture(t)
	const n = 60
	want := f.putFiles("tree/", n, func(i int) int { return 64<<10 + i })
	f.put("tree/sub/inner", []byte("a directory among the files\n"))
	want["tree/sub/inner"] = []byte("a directory among the files\n")
	for _, tc := range []struct {
		flags    []string
		min, max float64
	}{{nil, n / 2, n}, {[]string{"--prefetch-files", "0"}, 0, 0}} {
		addr := freePort(t)
		mp := f.mount(append([]string{"--metrics-addr", addr}, tc.flags...)...)
		before := scrape(t, addr)
		dst := filepath.Join(f.dir, fmt.Sprintf("copy%d", len(tc.flags)))
		if out, err := exec.Command("cp", "-r", filepath.Join(mp, "tree"), dst).CombinedOutput(); err != nil {
			t.Fatalf("cp -r: %v\n%s", err, out)
		}
		for key, data := range want {
			if got, err := os.ReadFile(filepath.Join(dst, strings.TrimPrefix(key, "tree/"))); err != nil || !bytes.Equal(got, data) {
				t.Errorf("%v: copy of %s: %d bytes, %v", tc.flags, key, len(got), err)
			}
		}
		after := scrape(t, addr)
		moved := func(name string) float64 { return after[name] - before[name] }
		files, heads := moved(`ssecfs_prefetch_files_total`), moved(`ssecfs_s3_requests_total{op="HeadObject",outcome="ok"}`)
		t.Logf("%v: %v files prefetched, %v HEAD, %v GET", tc.flags, files, heads, moved(`ssecfs_s3_requests_total{op="GetObject",outcome="ok"}`))
		if files < tc.min || files > tc.max {
			t.Errorf("%v: %v files prefetched; want %v to %v", tc.flags, files, tc.min, tc.max)
		}
		if heads != 0 {
			t.Errorf("%v: cp -r sent %v HEAD; want none (a fresh listing answers the opens)", tc.flags, heads)
		}
		unmount(t, mp)
	}
}
