package fs

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/internal/memstore"
)

// walkTree is an FS over a memstore, driven through go-fuse's bridge as the kernel
// would drive it (lookups, opens, reads), without mounting; the store counts and
// orders its requests.
type walkTree struct {
	t     *testing.T
	store *memstore.Store
	f     *FS
	raw   fuse.RawFileSystem
	pages *cache.PageCache

	mu     sync.Mutex
	events []string // "GetObject key", "HeadObject key", "open key", in order
}

func newWalkTree(t *testing.T, capacity int64, copts cache.Options, opts Options) *walkTree {
	t.Helper()
	w := &walkTree{t: t, store: memstore.New()}
	w.store.Before = func(op, key string) error {
		w.mu.Lock()
		w.events = append(w.events, op+" "+key)
		w.mu.Unlock()
		return nil
	}
	pages, err := cache.New(capacity, copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pages.Close)
	w.pages = pages
	w.f = New(w.store, pages, opts)
	w.raw = gofs.NewNodeFS(w.f.Root(), w.f.nodeOptions(MountOptions{}))
	return w
}

func (w *walkTree) put(key string, data []byte) {
	w.t.Helper()
	if _, err := w.store.Put(context.Background(), key, data, nil, bucket.Condition{}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *walkTree) note(ev string) {
	w.mu.Lock()
	w.events = append(w.events, ev)
	w.mu.Unlock()
}

// count is how many events are ev.
func (w *walkTree) count(ev string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if e == ev {
			n++
		}
	}
	return n
}

// countOp is how many events are requests op.
func (w *walkTree) countOp(op string) int { return w.countPrefix(op + " ") }

// countPrefix is how many events begin with prefix.
func (w *walkTree) countPrefix(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// list lists directory node dir to its end, as readdir does.
func (w *walkTree) list(dir *dirNode) []string {
	w.t.Helper()
	ds, errno := dir.Readdir(context.Background())
	if errno != 0 {
		w.t.Fatalf("readdir: %v", errno)
	}
	var names []string
	for ds.HasNext() {
		e, errno := ds.Next()
		if errno != 0 {
			w.t.Fatalf("readdir: %v", errno)
		}
		names = append(names, e.Name)
	}
	return names
}

func (w *walkTree) root() *dirNode {
	return w.f.Root().(*dirNode)
}

// lookup looks name up under node parent and returns its node id.
func (w *walkTree) lookup(parent uint64, name string) (uint64, fuse.Attr) {
	w.t.Helper()
	var out fuse.EntryOut
	if st := w.raw.Lookup(nil, &fuse.InHeader{NodeId: parent}, name, &out); !st.Ok() {
		w.t.Fatalf("lookup %s: %v", name, st)
	}
	return out.NodeId, out.Attr
}

// open opens node id read-only and returns its handle.
func (w *walkTree) open(id uint64, key string) uint64 {
	w.t.Helper()
	w.note("open " + key)
	var out fuse.OpenOut
	if st := w.raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: id}, Flags: syscall.O_RDONLY}, &out); !st.Ok() {
		w.t.Fatalf("open %s: %v", key, st)
	}
	return out.Fh
}

// read reads size bytes at off of handle fh of node id.
func (w *walkTree) read(id, fh uint64, off int64, size int) ([]byte, fuse.Status) {
	buf := make([]byte, size)
	res, st := w.raw.Read(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: id}, Fh: fh, Offset: uint64(off), Size: uint32(size)}, buf)
	if !st.Ok() {
		return nil, st
	}
	got, st := res.Bytes(buf)
	return bytes.Clone(got), st
}

func (w *walkTree) release(id, fh uint64) {
	w.raw.Release(nil, &fuse.ReleaseIn{InHeader: fuse.InHeader{NodeId: id}, Fh: fh})
}

// cat opens, reads whole and closes key (under the root), as cat does.
func (w *walkTree) cat(key string, size int) []byte {
	w.t.Helper()
	id, _ := w.lookup(fuse.FUSE_ROOT_ID, key)
	fh := w.open(id, key)
	defer w.release(id, fh)
	got, st := w.read(id, fh, 0, size+4096)
	if !st.Ok() {
		w.t.Fatalf("read %s: %v", key, st)
	}
	return got
}

// waitFor waits (bounded) until the store has seen ev; it reports whether it did.
func (w *walkTree) waitFor(ev string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for w.count(ev) == 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func fileBody(i, size int) []byte {
	return bytes.Repeat([]byte{byte('a' + i%26)}, size)
}

// An open of a file that a fresh listing showed sends no HEAD: the read's GET, pinned
// by If-Match to the listed ETag, is its only request. With caching off, the lookup and
// the open each ask.
func TestOpenOfAListedFileSendsNoHead(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ttl         time.Duration
		size        int
		heads, gets int
	}{
		{"fresh listing", time.Minute, 5000, 0, 1},
		{"caching off", -1, 5000, 2, 1},
		// The kernel reads an empty file without asking: the open must.
		{"empty file", time.Minute, 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWalkTree(t, 4<<20, cache.Options{}, Options{StatTTL: tc.ttl})
			w.put("a", fileBody(0, tc.size))
			w.list(w.root())
			got := w.cat("a", tc.size)
			if !bytes.Equal(got, fileBody(0, tc.size)) {
				t.Fatalf("read %d bytes, not the object's", len(got))
			}
			if heads, gets := w.countOp(memstore.OpHead), w.countOp(memstore.OpGet); heads != tc.heads || gets != tc.gets {
				t.Errorf("open and read sent %d HEAD and %d GET; want %d and %d", heads, gets, tc.heads, tc.gets)
			}
		})
	}
}

// A file replaced between its listing and its first read is read as its new version,
// whole, larger or smaller than the listing said, and the node takes the new size; a
// handle that returned bytes of the old version stays on it and answers ESTALE.
func TestListedOpenReadsTheVersionReplacedSinceTheListing(t *testing.T) {
	for _, newSize := range []int{300 << 10, 1000} {
		t.Run(fmt.Sprint(newSize), func(t *testing.T) {
			w := newWalkTree(t, 4<<20, cache.Options{PageSize: 4096}, Options{})
			w.put("f", fileBody(0, 20000))
			w.list(w.root())
			id, attr := w.lookup(fuse.FUSE_ROOT_ID, "f")
			if attr.Size != 20000 {
				t.Fatalf("listed size %d", attr.Size)
			}
			w.put("f", fileBody(1, newSize))
			fh := w.open(id, "f")
			defer w.release(id, fh)
			if heads := w.countOp(memstore.OpHead); heads != 0 {
				t.Fatalf("the open sent %d HEAD", heads)
			}
			want := fileBody(1, newSize)
			got, st := w.read(id, fh, 0, 4096)
			if first := want[:min(4096, newSize)]; !st.Ok() || !bytes.Equal(got, first) {
				t.Fatalf("first read: %v, %d bytes, the new version: %v", st, len(got), bytes.Equal(got, first))
			}
			var out fuse.AttrOut
			if st := w.raw.GetAttr(nil, &fuse.GetAttrIn{InHeader: fuse.InHeader{NodeId: id}}, &out); !st.Ok() || out.Size != uint64(newSize) {
				t.Errorf("size after the read: %d, %v; want %d", out.Size, st, newSize)
			}
			if s := w.f.PrefetchStats(); s.Relearned != 1 || s.OpensListed != 1 || w.countOp(memstore.OpHead) != 1 {
				t.Errorf("stats %+v, %d HEAD; want 1 listed open that moved to the new version with one HEAD", s, w.countOp(memstore.OpHead))
			}
			if newSize <= 8192 {
				return
			}
			if got, st := w.read(id, fh, 4096, 4096); !st.Ok() || !bytes.Equal(got, want[4096:8192]) {
				t.Fatalf("second read: %v", st)
			}
			// The handle has returned bytes: a later replacement is ESTALE, not a mix.
			w.put("f", fileBody(2, newSize))
			if _, st := w.read(id, fh, 100<<10, 4096); st != fuse.Status(syscall.ESTALE) {
				t.Errorf("read after a second replacement: %v; want ESTALE", st)
			}
		})
	}
}

// Two reads of one handle at once, both before any returned bytes, while the object
// was replaced since the listing: both answer with the new version.
func TestListedOpenConcurrentReadsMoveTogether(t *testing.T) {
	w := newWalkTree(t, 4<<20, cache.Options{PageSize: 4096}, Options{})
	w.put("f", fileBody(0, 64<<10))
	w.list(w.root())
	id, _ := w.lookup(fuse.FUSE_ROOT_ID, "f")
	want := bytes.Repeat([]byte("0123456789abcdef"), 8<<10)
	w.put("f", want)
	fh := w.open(id, "f")
	defer w.release(id, fh)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(i) * 16 << 10
			got, st := w.read(id, fh, off, 8<<10)
			if !st.Ok() || !bytes.Equal(got, want[off:off+8<<10]) {
				errs <- fmt.Errorf("read at %d: %v, new version %v", off, st, bytes.Equal(got, want[off:off+8<<10]))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Files opened in listing order have the next ones fetched before they are opened, with
// If-Match on the listed version: each is fetched once, by the prefetch, and its reads
// are served from the cache.
func TestPrefetchFetchesTheNextFilesOfAWalk(t *testing.T) {
	w := newWalkTree(t, 16<<20, cache.Options{}, Options{})
	const n = 20
	for i := range n {
		w.put(fmt.Sprintf("f%02d", i), fileBody(i, 3000+i))
	}
	w.put("f05d/x", []byte("a directory among the files"))
	w.list(w.root())
	for i := range n {
		key := fmt.Sprintf("f%02d", i)
		if i >= 2 && !w.waitFor(memstore.OpGet+" "+key) {
			t.Fatalf("%s was not fetched before it was opened (stats %+v)", key, w.f.PrefetchStats())
		}
		if got := w.cat(key, 3000+i); !bytes.Equal(got, fileBody(i, 3000+i)) {
			t.Fatalf("%s: read %d bytes, not the object's", key, len(got))
		}
	}
	for i := range n {
		key := fmt.Sprintf("f%02d", i)
		if gets := w.count(memstore.OpGet + " " + key); gets != 1 {
			t.Errorf("%s fetched %d times; want once", key, gets)
		}
	}
	if heads := w.countOp(memstore.OpHead); heads != 0 {
		t.Errorf("%d HEAD sent; want none (the listing was fresh)", heads)
	}
	if s := w.f.PrefetchStats(); s.Files < n-2 || s.Stops != 0 {
		t.Errorf("stats %+v; want at least %d files prefetched, no stop", s, n-2)
	}
}

// A file replaced after the listing is never prefetched as its old version: the
// prefetch's If-Match fails and nothing is cached; its open reads the new version.
func TestPrefetchOfAReplacedFileCachesNothing(t *testing.T) {
	w := newWalkTree(t, 16<<20, cache.Options{}, Options{})
	for i := range 6 {
		w.put(fmt.Sprintf("f%d", i), fileBody(i, 1000))
	}
	w.list(w.root())
	newer := []byte("the new version, longer than the one listed, which was 1000 bytes of one letter; " + string(fileBody(9, 2000)))
	w.put("f3", newer)
	w.cat("f0", 1000)
	w.cat("f1", 1000) // the walk goes on: f2 and f3 are fetched ahead
	if !w.waitFor(memstore.OpGet + " f3") {
		t.Fatal("f3 was not prefetched")
	}
	w.cat("f2", 1000)
	if got := w.cat("f3", len(newer)); !bytes.Equal(got, newer) {
		t.Fatalf("f3 read %q; want its new version", got)
	}
	for i, key := range []string{"f4", "f5"} {
		if got := w.cat(key, 1000); !bytes.Equal(got, fileBody(4+i, 1000)) {
			t.Errorf("%s: not the object's bytes", key)
		}
	}
	if s := w.f.PrefetchStats(); s.Relearned != 1 {
		t.Errorf("stats %+v; want one handle moved to a new version", s)
	}
}

// Opens in an order that never follows the listing prefetch nothing, and a walk that
// breaks stops prefetching.
func TestPrefetchStopsOnRandomAccess(t *testing.T) {
	w := newWalkTree(t, 16<<20, cache.Options{}, Options{})
	const n = 30
	for i := range n {
		w.put(fmt.Sprintf("f%02d", i), fileBody(i, 2000))
	}
	w.list(w.root())
	order := shuffledOutOfOrder(n, prefetchSkip, rand.New(rand.NewPCG(7, 7)))
	for _, i := range order {
		key := fmt.Sprintf("f%02d", i)
		if got := w.cat(key, 2000); !bytes.Equal(got, fileBody(i, 2000)) {
			t.Fatalf("%s: not the object's bytes", key)
		}
	}
	if s := w.f.PrefetchStats(); s.Files != 0 {
		t.Errorf("opened in the order %v: %+v; want nothing prefetched", order, s)
	}
	if gets := w.countOp(memstore.OpGet); gets != n {
		t.Errorf("%d GET for %d files; want one each", gets, n)
	}
}

// shuffledOutOfOrder is a random order of 0..n-1 in which no element follows the one
// before it by 1 to skip places: opens that never look like a walk.
func shuffledOutOfOrder(n, skip int, r *rand.Rand) []int {
	for {
		p := r.Perm(n)
		ok := true
		for i := 1; i < n; i++ {
			if d := p[i] - p[i-1]; d > 0 && d <= skip {
				ok = false
				break
			}
		}
		if ok {
			return p
		}
	}
}

// The walk's own state: a walk starts on the second open that follows the listing,
// grows 2, 4, 8 files ahead, and stops at an open out of order.
func TestPrefetchWalkGrowsAndStops(t *testing.T) {
	w := newWalkTree(t, 64<<20, cache.Options{}, Options{PrefetchFiles: 8})
	for i := range 40 {
		w.put(fmt.Sprintf("f%02d", i), fileBody(i, 100))
	}
	w.list(w.root())
	ahead := func() int {
		d := w.root()
		d.walkMu.Lock()
		defer d.walkMu.Unlock()
		return len(d.walkOf(0).ahead)
	}
	for i, want := range []int{0, 2, 4, 8, 8} {
		w.cat(fmt.Sprintf("f%02d", i), 100)
		if got := ahead(); got != want {
			t.Errorf("after opening f%02d: %d files ahead; want %d", i, got, want)
		}
	}
	w.cat("f06", 100) // skips f05: still the walk
	if got := ahead(); got != 8 {
		t.Errorf("after skipping one file: %d ahead; want 8", got)
	}
	w.cat("f30", 100)
	if got := ahead(); got != 0 || w.f.PrefetchStats().Stops != 1 {
		t.Errorf("after an open far ahead: %d ahead, stats %+v; want 0 and one stop", got, w.f.PrefetchStats())
	}
	w.cat("f02", 100)
	if got := ahead(); got != 0 {
		t.Errorf("after an open backwards: %d ahead", got)
	}
}

// What is prefetched and not yet opened stays within an eighth of the cache, however
// many files the walk may fetch ahead, and every file reads right.
func TestPrefetchStaysWithinTheCacheBudget(t *testing.T) {
	const capacity = 64 * 4096
	w := newWalkTree(t, capacity, cache.Options{PageSize: 4096}, Options{PrefetchFiles: 64})
	const n, size = 40, 10000
	for i := range n {
		w.put(fmt.Sprintf("f%02d", i), fileBody(i, size))
	}
	w.list(w.root())
	for i := range n {
		key := fmt.Sprintf("f%02d", i)
		if got := w.cat(key, size); !bytes.Equal(got, fileBody(i, size)) {
			t.Fatalf("%s: not the object's bytes", key)
		}
		if held := w.pages.Held(); held > capacity {
			t.Fatalf("cache holds %d bytes, more than its %d", held, capacity)
		}
	}
	s := w.f.PrefetchStats()
	if s.Files == 0 || s.AheadMax > capacity/8 || s.AheadMax < size {
		t.Errorf("stats %+v; want files prefetched, at most %d bytes ahead", s, capacity/8)
	}
}

// Directories, files being written, and files the listing showed longer ago than
// --stat-ttl are not prefetched; nor is anything with the prefetch turned off.
func TestPrefetchSkipsWhatItMustNotFetch(t *testing.T) {
	w := newWalkTree(t, 16<<20, cache.Options{}, Options{})
	for i := range 8 {
		w.put(fmt.Sprintf("f%d", i), fileBody(i, 1000))
	}
	w.put("f3x/inner", []byte("in a directory"))
	w.list(w.root())
	// f4 is being written.
	id4, _ := w.lookup(fuse.FUSE_ROOT_ID, "f4")
	var out fuse.OpenOut
	if st := w.raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: id4}, Flags: syscall.O_WRONLY}, &out); !st.Ok() {
		t.Fatalf("open f4 for writing: %v", st)
	}
	defer w.release(id4, out.Fh)
	before := w.count(memstore.OpGet + " f4")
	for i := range 4 {
		w.cat(fmt.Sprintf("f%d", i), 1000)
	}
	if !w.waitFor(memstore.OpGet + " f5") {
		t.Fatal("f5 was not prefetched")
	}
	if got := w.count(memstore.OpGet + " f4"); got != before {
		t.Errorf("f4, being written, was fetched %d times", got-before)
	}
	if got := w.countPrefix(memstore.OpGet + " f3x"); got != 0 {
		t.Errorf("the directory f3x was fetched")
	}

	off := newWalkTree(t, 16<<20, cache.Options{}, Options{PrefetchFiles: -1})
	for i := range 6 {
		off.put(fmt.Sprintf("f%d", i), fileBody(i, 1000))
	}
	off.list(off.root())
	for i := range 6 {
		off.cat(fmt.Sprintf("f%d", i), 1000)
	}
	if s := off.f.PrefetchStats(); s.Files != 0 || off.countOp(memstore.OpGet) != 6 {
		t.Errorf("with the prefetch off: %+v, %d GET", s, off.countOp(memstore.OpGet))
	}

	stale := newWalkTree(t, 16<<20, cache.Options{}, Options{StatTTL: 50 * time.Millisecond})
	for i := range 6 {
		stale.put(fmt.Sprintf("f%d", i), fileBody(i, 1000))
	}
	stale.list(stale.root())
	time.Sleep(60 * time.Millisecond) // the listing is older than --stat-ttl
	for i := range 6 {
		stale.cat(fmt.Sprintf("f%d", i), 1000)
	}
	if s := stale.f.PrefetchStats(); s.Files != 0 || stale.countOp(memstore.OpHead) < 6 {
		t.Errorf("after --stat-ttl: %+v, %d HEAD; want nothing prefetched, every file asked for", s, stale.countOp(memstore.OpHead))
	}
}

// A file opened before is asked for with a HEAD at its next open, even while its listing
// is fresh: its pages (the cache's, the kernel's) would answer the old version without a
// request, and another tool's new version must be read at the next open.
func TestReopenAsksForTheCurrentVersion(t *testing.T) {
	w := newWalkTree(t, 4<<20, cache.Options{}, Options{})
	w.put("a", fileBody(0, 5000))
	w.list(w.root())
	w.cat("a", 5000)
	w.cat("a", 5000)
	if heads, gets := w.countOp(memstore.OpHead), w.countOp(memstore.OpGet); heads != 1 || gets != 1 {
		t.Errorf("two opens sent %d HEAD and %d GET; want 1 (the second open) and 1 (the first read)", heads, gets)
	}
	w.put("a", fileBody(1, 7000))
	time.Sleep(defaultKernelTTL) // past the HEAD the second open made
	if got := w.cat("a", 7000); !bytes.Equal(got, fileBody(1, 7000)) {
		t.Errorf("reopened after another tool replaced it: %d bytes, the new version %v", len(got), bytes.Equal(got, fileBody(1, 7000)))
	}
}

// Each process walks the directory on its own: two copies at once, each through its
// own half of the files (as 8 `cp` of 8 files each do), opening in turns, are both
// followed, where one walk for the directory would see every open out of order.
func TestPrefetchFollowsEachProcess(t *testing.T) {
	w := newWalkTree(t, 64<<20, cache.Options{}, Options{PrefetchFiles: 4})
	const n, size = 40, 3000
	for i := range n {
		w.put(fmt.Sprintf("f%02d", i), fileBody(i, size))
	}
	w.list(w.root())
	// Pids no process has: processOf keeps them as they are.
	const pidA, pidB = 1<<31 - 7, 1<<31 - 9
	catAs := func(pid uint32, i int) {
		key := fmt.Sprintf("f%02d", i)
		id, _ := w.lookup(fuse.FUSE_ROOT_ID, key)
		w.note("open " + key)
		var out fuse.OpenOut
		in := &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: id, Caller: fuse.Caller{Pid: pid}}, Flags: syscall.O_RDONLY}
		if st := w.raw.Open(nil, in, &out); !st.Ok() {
			t.Fatalf("open %s: %v", key, st)
		}
		got, st := w.read(id, out.Fh, 0, size+4096)
		w.release(id, out.Fh)
		if !st.Ok() || !bytes.Equal(got, fileBody(i, size)) {
			t.Fatalf("%s: %v, or not the object's bytes", key, st)
		}
	}
	for i := range n / 2 {
		catAs(pidA, i)
		catAs(pidB, n/2+i)
	}
	s := w.f.PrefetchStats()
	if s.Stops != 0 || s.Files < n-8 {
		t.Errorf("stats %+v; want no walk stopped and at least %d files prefetched", s, n-8)
	}
	if gets := w.countOp(memstore.OpGet); gets != n {
		t.Errorf("%d GETs for %d files; want one each", gets, n)
	}
}
