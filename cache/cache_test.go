package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name       string
		capacity   int64
		opts       Options
		wantPS     int
		wantPages  int
		wantBlock  int64 // read-ahead block; 0: none
		wantMaxWin int64
	}{
		{"exact", 4096, Options{PageSize: 1024}, 1024, 4, 0, 0},
		{"rounded down", 4095, Options{PageSize: 1024}, 1024, 3, 0, 0},
		{"smaller than a page", 100, Options{PageSize: 1024}, 1024, 1, 0, 0},
		{"zero", 0, Options{PageSize: 1024}, 1024, 1, 0, 0},
		{"negative", -5, Options{PageSize: 1024}, 1024, 1, 0, 0},
		{"defaults", 256 << 20, Options{}, DefaultPageSize, 2048, DefaultReadAheadBlock, DefaultReadAheadMax},
		{"window bounded by a quarter", 64 << 20, Options{}, DefaultPageSize, 512, 8 << 20, 16 << 20},
		{"block bounded by the window", 16 << 20, Options{}, DefaultPageSize, 128, 4 << 20, 4 << 20},
		{"block rounded to pages", 64 << 20, Options{PageSize: 100 << 10, ReadAheadBlock: 1 << 20}, 100 << 10, 655, 1000 << 10, 16 * 1000 << 10},
		{"too small to read ahead", 256 << 10, Options{}, DefaultPageSize, 2, 0, 0},
		{"read-ahead off", 256 << 20, Options{NoReadAhead: true}, DefaultPageSize, 2048, 0, 0},
		{"max option", 256 << 20, Options{ReadAheadMax: 20 << 20}, DefaultPageSize, 2048, 8 << 20, 16 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, tt.capacity, tt.opts)
			if c.pageSize != tt.wantPS || c.maxPages != tt.wantPages || len(c.slots) != tt.wantPages {
				t.Errorf("page size %d, pages %d (%d slots); want %d, %d", c.pageSize, c.maxPages, len(c.slots), tt.wantPS, tt.wantPages)
			}
			if len(c.mem.mem) != tt.wantPages*tt.wantPS {
				t.Errorf("arena is %d bytes, want %d", len(c.mem.mem), tt.wantPages*tt.wantPS)
			}
			if c.raBlock != tt.wantBlock || c.raMax != tt.wantMaxWin {
				t.Errorf("read-ahead block %d, max window %d; want %d, %d", c.raBlock, c.raMax, tt.wantBlock, tt.wantMaxWin)
			}
			if c.raMax > int64(tt.wantPages*tt.wantPS)/4 {
				t.Errorf("max window %d is more than a quarter of the cache", c.raMax)
			}
		})
	}
	if _, err := New(1<<20, Options{PageSize: -1}); err == nil {
		t.Error("negative page size accepted")
	}
}

// TestLRU reads single pages of two objects through a small cache: a page read again
// is not fetched again while it is cached, and the least recently used page is the
// one evicted.
func TestLRU(t *testing.T) {
	const ps, size = 64, 16 * 64
	type page struct {
		obj string
		idx int64
	}
	a := func(i int64) page { return page{"a", i} }
	b := func(i int64) page { return page{"b", i} }
	tests := []struct {
		name        string
		capPages    int64
		reads       []page
		wantHits    int
		wantFetches int
		wantCached  []page // in the cache at the end; the other pages read are not
	}{
		{"single miss", 4, []page{a(0)}, 0, 1, []page{a(0)}},
		{"miss then hits", 4, []page{a(0), a(0), a(0)}, 2, 1, []page{a(0)}},
		{"distinct pages", 4, []page{a(0), a(1), b(0), a(1)}, 1, 3, []page{a(0), a(1), b(0)}},
		// Capacity 2: a0 a1 a2 evicts a0, so the last a0 misses again.
		{"eviction causes refetch", 2, []page{a(0), a(1), a(2), a(0)}, 0, 4, []page{a(2), a(0)}},
		// LRU, not FIFO: touching a0 makes a1 the victim.
		{"recency protects", 2, []page{a(0), a(1), a(0), a(2), a(0)}, 2, 3, []page{a(0), a(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, tt.capPages*ps, Options{PageSize: ps, NoReadAhead: true})
			fakes := map[string]*rangeFake{"a": newRangeFake(size, 0), "b": newRangeFake(size+1, 0)}
			readers := map[string]*Reader{}
			for obj, f := range fakes {
				readers[obj] = c.NewReader(obj, "v1", int64(len(f.ref)), f.fetch)
			}
			fetches := func() int { return int(fakes["a"].calls.Load() + fakes["b"].calls.Load()) }
			dst := make([]byte, ps)
			for _, p := range tt.reads {
				n, err := readers[p.obj].ReadAt(context.Background(), dst, p.idx*ps)
				if err != nil || n != ps || !bytes.Equal(dst, fakes[p.obj].ref[p.idx*ps:(p.idx+1)*ps]) {
					t.Fatalf("ReadAt(%v) = %d, %v, or wrong data", p, n, err)
				}
			}
			if hits := len(tt.reads) - fetches(); fetches() != tt.wantFetches || hits != tt.wantHits {
				t.Errorf("%d fetches and %d hits, want %d and %d", fetches(), hits, tt.wantFetches, tt.wantHits)
			}
			pages, b := contents(t, c)
			if pages != len(tt.wantCached) || b != int64(pages)*ps {
				t.Errorf("%d pages of %d bytes cached, want %d full pages", pages, b, len(tt.wantCached))
			}
			for _, p := range tt.reads {
				want := false
				for _, q := range tt.wantCached {
					want = want || p == q
				}
				if got := peek(c, p.obj, "v1", p.idx); got != want {
					t.Errorf("page %v cached: %v, want %v", p, got, want)
				}
			}
		})
	}
}

// TestErrorsNotCached: a fetch that fails, however it fails, leaves nothing in the
// cache, and the next read of the page (here by another Reader of the same version)
// fetches it again.
func TestErrorsNotCached(t *testing.T) {
	const ps, size = 16, 4 * 16
	errBoom := errors.New("boom")
	var handed []byte // what the fetch handed over with its error
	tests := []struct {
		name    string
		fetch   RangeFunc
		timeout time.Duration
		check   func(error) bool
	}{
		{"plain error", func(context.Context, int64, [][]byte) (int64, error) { return 0, errBoom },
			time.Second, func(err error) bool { return errors.Is(err, errBoom) }},
		{"data with error is dropped and zeroed", func(_ context.Context, _ int64, dst [][]byte) (int64, error) {
			handed = dst[0]
			copy(handed, "partial")
			return 7, errBoom
		}, time.Second, func(err error) bool { return errors.Is(err, errBoom) }},
		{"oversize", func(_ context.Context, _ int64, dst [][]byte) (int64, error) { return int64(len(dst[0])) + 1, nil },
			time.Second, func(err error) bool { return strings.Contains(err.Error(), "reported 17 bytes, of the 16 asked") }},
		{"timeout", func(ctx context.Context, _ int64, _ [][]byte) (int64, error) { <-ctx.Done(); return 0, ctx.Err() },
			20 * time.Millisecond, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"panic", func(context.Context, int64, [][]byte) (int64, error) { panic("SECRET-PLAINTEXT") },
			time.Second, func(err error) bool {
				return strings.Contains(err.Error(), "panicked") && !strings.Contains(err.Error(), "SECRET")
			}},
		{"runtime panic", func(context.Context, int64, [][]byte) (int64, error) { var b []byte; return int64(len(b[:1])), nil },
			time.Second, func(err error) bool { return strings.Contains(err.Error(), "out of range") }},
		{"nil fetch", nil, time.Second, func(err error) bool { return strings.Contains(err.Error(), "no fetch function") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, 4*ps, Options{PageSize: ps, FetchTimeout: tt.timeout, NoReadAhead: true})
			var badCalls atomic.Int32
			fetch := tt.fetch
			if fetch != nil {
				fetch = func(ctx context.Context, off int64, dst [][]byte) (int64, error) {
					badCalls.Add(1)
					return tt.fetch(ctx, off, dst)
				}
			}
			dst := make([]byte, ps)
			n, err := c.NewReader("obj", "v", size, fetch).ReadAt(context.Background(), dst, 3*ps)
			if n != 0 || err == nil || !tt.check(err) {
				t.Fatalf("first ReadAt = %d, %v: not the expected error", n, err)
			}
			if pages, b := contents(t, c); pages != 0 || b != 0 {
				t.Fatalf("after the error %d pages (%d bytes) cached, want none", pages, b)
			}
			if handed != nil { // an arena page: zeroed once the flight let it go
				waitUnpinned(t, c)
				if !allZero(handed) {
					t.Errorf("the bytes a failed fetch wrote into its page are still there: %q", handed)
				}
				handed = nil
			}
			good := newRangeFake(size, 0)
			n, err = c.NewReader("obj", "v", size, good.fetch).ReadAt(context.Background(), dst, 3*ps)
			if err != nil || n != ps || !bytes.Equal(dst, good.ref[3*ps:]) {
				t.Fatalf("second ReadAt = %d, %v, or wrong data", n, err)
			}
			if calls := good.calls.Load(); calls != 1 {
				t.Errorf("second ReadAt fetched %d times, want 1 (the error must not be cached)", calls)
			}
			if want := map[bool]int32{true: 0, false: 1}[tt.fetch == nil]; badCalls.Load() != want {
				t.Errorf("failing fetch called %d times, want %d", badCalls.Load(), want)
			}
			if pages, _ := contents(t, c); pages != 1 {
				t.Errorf("%d pages cached, want 1", pages)
			}
		})
	}
}

// TestPageLengthChecked: a fetch must return exactly the bytes asked. Fewer is a
// short page (io.ErrUnexpectedEOF), more would break the byte bound of the arena;
// neither is cached, and the error names the object and the page, never its content.
func TestPageLengthChecked(t *testing.T) {
	const ps = 32
	const size = 8 * ps // page 7 is a full page
	tests := []struct {
		name   string
		n      int
		wantIs error
		wantIn string
	}{
		{"empty", 0, io.ErrUnexpectedEOF, "has 0 bytes"},
		{"short", ps - 1, io.ErrUnexpectedEOF, "has 31 bytes"},
		{"exact", ps, nil, ""},
		{"one over", ps + 1, nil, "of the 32 asked"},
		{"double", 2 * ps, nil, "of the 32 asked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, 4*ps, Options{PageSize: ps, NoReadAhead: true})
			r := c.NewReader("dir/file.bin", "etag", size, bytesFunc(func(context.Context, int64, int64) ([]byte, error) {
				return bytes.Repeat([]byte("S"), tt.n), nil // "S" for secret: must not appear in errors
			}))
			n, err := r.ReadAt(context.Background(), make([]byte, ps), 7*ps)
			ok := tt.wantIs == nil && tt.wantIn == ""
			if ok != (err == nil) || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) ||
				(tt.wantIn != "" && !strings.Contains(err.Error(), tt.wantIn)) {
				t.Fatalf("ReadAt = %d, %v; want %v, %q", n, err, tt.wantIs, tt.wantIn)
			}
			if err != nil {
				msg := err.Error()
				if !strings.Contains(msg, `"dir/file.bin"`) || !strings.Contains(msg, "page 7") {
					t.Errorf("error %q does not name object and page", msg)
				}
				if strings.Contains(msg, "SS") {
					t.Errorf("error %q contains page content", msg)
				}
			}
			want := map[bool]int{true: 1, false: 0}[ok]
			if pages, b := contents(t, c); pages != want || b > int64(ps*pages) {
				t.Errorf("%d pages of %d bytes cached, want %d within the byte bound", pages, b, want)
			}
		})
	}
}

// TestFetchedBytesZeroed: the cache copies a fetch's bytes into its arena and zeroes
// what it was handed, and keeps nothing of it (the fetcher's buffer may be large).
func TestFetchedBytesZeroed(t *testing.T) {
	const ps = 16
	c := mustCache(t, 4*ps, Options{PageSize: ps, NoReadAhead: true})
	buf := make([]byte, 1<<20)
	copy(buf, "hello")
	r := c.NewReader("o", "v", 5, bytesFunc(func(context.Context, int64, int64) ([]byte, error) { return buf[:5], nil }))
	dst := make([]byte, ps)
	if n, err := r.ReadAt(context.Background(), dst, 0); err != nil || string(dst[:n]) != "hello" {
		t.Fatalf("ReadAt = %q, %v", dst[:n], err)
	}
	c.wg.Wait() // the fetch's goroutine is done with buf
	if !allZero(buf[:5]) {
		t.Errorf("fetched bytes not zeroed: %q", buf[:5])
	}
	i := slotOf(c, "o", "v", 0)
	if i < 0 {
		t.Fatal("page not cached")
	}
	if s := c.slots[i]; string(s.data[:s.n]) != "hello" || cap(s.data) != ps {
		t.Errorf("cached page is %q, cap %d; want a copy in a page of the arena", s.data[:s.n], cap(s.data))
	}
}

// TestCapacityBound fills a cache with pages of many lengths (the last pages of
// objects of many sizes): it never holds more pages or bytes than its capacity, and
// its byte count is what the pages hold.
func TestCapacityBound(t *testing.T) {
	tests := []struct {
		name     string
		capacity int64
		pageSize int
		reads    int
		lens     func(i int) int // length of the i-th page read
	}{
		{"full pages", 10 * 100, 100, 50, func(int) int { return 100 }},
		{"capacity not a multiple", 1050, 100, 50, func(int) int { return 100 }},
		{"mixed lengths", 8 * 64, 64, 200, func(i int) int { return (i * 37) % 65 }},
		{"one page", 64, 64, 20, func(i int) int { return 64 - i%3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, tt.capacity, Options{PageSize: tt.pageSize, NoReadAhead: true})
			ps := int64(tt.pageSize)
			maxPages := int(tt.capacity / ps)
			for i := range tt.reads {
				// Page i of an object of i pages and lens(i) bytes.
				size := int64(i)*ps + int64(tt.lens(i))
				f := newRangeFake(size, 0)
				r := c.NewReader(fmt.Sprintf("obj%d", i%7), fmt.Sprint(i), size, f.fetch)
				dst := make([]byte, ps)
				if n, err := r.ReadAt(context.Background(), dst, int64(i)*ps); err != nil || n != tt.lens(i) {
					t.Fatalf("read %d = %d, %v; want %d bytes", i, n, err, tt.lens(i))
				}
				if pages, b := contents(t, c); b > tt.capacity || pages > maxPages {
					t.Fatalf("after %d reads %d pages of %d bytes cached: over capacity %d / %d pages", i+1, pages, b, tt.capacity, maxPages)
				}
			}
			if pages, _ := contents(t, c); pages != maxPages {
				t.Errorf("%d pages cached, want the cache full at %d", pages, maxPages)
			}
		})
	}
}

// TestVersionsAreDistinct: pages are keyed by version (ETag), so a new version is
// fetched, and an older one is neither refetched nor mixed with it.
func TestVersionsAreDistinct(t *testing.T) {
	const ps = 8
	v1 := []byte("version one, the old content of it")
	v2 := []byte("VERSION TWO, NEW!")
	c := mustCache(t, 64*ps, Options{PageSize: ps, NoReadAhead: true})
	var fetched atomic.Int64
	fetcher := func(ref []byte) RangeFunc {
		return bytesFunc(func(_ context.Context, off, length int64) ([]byte, error) {
			fetched.Add(length)
			return bytes.Clone(ref[off : off+length]), nil
		})
	}
	tests := []struct {
		version     string
		ref         []byte
		wantFetched int
	}{
		{"e1", v1, len(v1)},
		{"e2", v2, len(v1) + len(v2)}, // new version: new pages, fetched
		{"e1", v1, len(v1) + len(v2)}, // old version still cached, not mixed up with e2
		{"e2", v2, len(v1) + len(v2)},
	}
	for _, tt := range tests {
		dst := make([]byte, 64)
		n, err := c.NewReader("o", tt.version, int64(len(tt.ref)), fetcher(tt.ref)).ReadAt(context.Background(), dst, 0)
		if err != nil || !bytes.Equal(dst[:n], tt.ref) {
			t.Errorf("version %s: got %q, %v; want %q", tt.version, dst[:n], err, tt.ref)
		}
		if got := fetched.Load(); got != int64(tt.wantFetched) {
			t.Errorf("version %s: %d bytes fetched in all, want %d", tt.version, got, tt.wantFetched)
		}
	}
}

func TestClose(t *testing.T) {
	const ps = 16
	c, err := New(8*ps, Options{PageSize: ps, FetchTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	f := newRangeFake(10, 0)
	r := c.NewReader("o", "v", 10, f.fetch)
	if _, err := r.ReadAt(context.Background(), make([]byte, 4), 0); err != nil {
		t.Fatal(err)
	}
	// A fetch in flight is cancelled by Close, which waits for it.
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		slow := c.NewReader("slow", "v", 10, bytesFunc(func(ctx context.Context, _, _ int64) ([]byte, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}))
		_, err := slow.ReadAt(context.Background(), make([]byte, 4), 0)
		errc <- err
	}()
	<-started
	c.Close()
	if err := <-errc; err == nil {
		t.Error("fetch in flight at Close succeeded")
	}
	c.Close() // idempotent
	if _, err := r.ReadAt(context.Background(), make([]byte, 4), 0); err != ErrClosed {
		t.Errorf("ReadAt of a cached page after Close: %v, want ErrClosed", err)
	}
	if _, err := c.NewReader("o", "v", 10, nil).ReadAt(context.Background(), make([]byte, 4), 0); err != ErrClosed {
		t.Errorf("ReadAt of a new Reader after Close: %v, want ErrClosed", err)
	}
	if pages, b := contents(t, c); pages != 0 || b != 0 {
		t.Errorf("after Close %d pages, %d bytes", pages, b)
	}
}
