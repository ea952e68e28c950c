package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// onePagePerFetch makes every fetch of a Reader's own reads cover one page, and turns
// read-ahead off, so that a read of n missing pages makes n fetches.
func onePagePerFetch(ps int) Options {
	return Options{PageSize: ps, ReadAheadBlock: int64(ps), NoReadAhead: true, FetchTimeout: 10 * time.Second}
}

// TestRandomReads: random reads, some at or past the end, some through a cache far
// smaller than the object, return the object's bytes, clipped to its end, never write
// past that, keep the cache within its capacity, and have at most
// maxParallelFetches fetches in flight each.
func TestRandomReads(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int
		size     int64
		capPages int64
	}{
		{"size not a page multiple", 100, 1234, 64},
		{"size a page multiple", 64, 64 * 20, 64},
		{"tiny pages", 7, 501, 200},
		{"evicting cache", 50, 2000, 3}, // reads of many pages through a 3-page cache
		{"single short page", 4096, 10, 4},
		{"one byte pages", 1, 97, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.size), uint64(tt.pageSize)))
			f := newRangeFake(tt.size, 0)
			c := mustCache(t, tt.capPages*int64(tt.pageSize), onePagePerFetch(tt.pageSize))
			r := c.NewReader("obj", "v1", tt.size, f.fetch)
			for range 300 {
				off := rng.Int64N(tt.size + int64(tt.pageSize) + 2) // sometimes at or past EOF
				n := rng.IntN(12*tt.pageSize + 3)
				dst := bytes.Repeat([]byte{0xEE}, n)
				got, err := r.ReadAt(context.Background(), dst, off)
				if err != nil {
					t.Fatalf("ReadAt(off %d, len %d): %v", off, n, err)
				}
				want := int64(0)
				if off < tt.size {
					want = min(int64(n), tt.size-off)
				}
				if int64(got) != want {
					t.Fatalf("ReadAt(off %d, len %d) = %d bytes, want %d", off, n, got, want)
				}
				if want > 0 && !bytes.Equal(dst[:got], f.ref[off:off+want]) {
					t.Fatalf("ReadAt(off %d, len %d): data differs from reference", off, n)
				}
				for i, b := range dst[got:] {
					if b != 0xEE {
						t.Fatalf("ReadAt(off %d, len %d) wrote past the clipped end at %d", off, n, got+i)
					}
				}
				if pages, b := contents(t, c); pages > int(tt.capPages) || b > tt.capPages*int64(tt.pageSize) {
					t.Fatalf("cache over capacity: %d pages, %d bytes", pages, b)
				}
			}
			if m := f.maxActive.Load(); m > maxParallelFetches {
				t.Errorf("%d fetches ran at once, limit %d", m, maxParallelFetches)
			}
		})
	}
}

// TestReadFetchesConcurrently: the fetches of one read run at once, up to
// maxParallelFetches; a read of cached pages fetches nothing.
func TestReadFetchesConcurrently(t *testing.T) {
	const ps = 16
	const pages = 30
	f := newRangeFake(ps*pages, 20*time.Millisecond)
	c := mustCache(t, ps*pages, onePagePerFetch(ps))
	dst := make([]byte, len(f.ref))
	n, err := c.NewReader("o", "v", int64(len(f.ref)), f.fetch).ReadAt(context.Background(), dst, 0)
	if err != nil || n != len(f.ref) || !bytes.Equal(dst, f.ref) {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if m := f.maxActive.Load(); m < 2 || m > maxParallelFetches {
		t.Errorf("max concurrent fetches = %d, want between 2 and %d", m, maxParallelFetches)
	}
	if c := f.calls.Load(); c != pages {
		t.Errorf("fetches = %d, want %d", c, pages)
	}
	// Second read, by another Reader: all hits, and its fetch is not even called.
	called := false
	n, err = c.NewReader("o", "v", int64(len(f.ref)), bytesFunc(func(context.Context, int64, int64) ([]byte, error) {
		called = true
		return nil, errors.New("unexpected")
	})).ReadAt(context.Background(), dst, 5)
	if err != nil || n != len(f.ref)-5 || called {
		t.Errorf("cached ReadAt = %d, %v, fetch called %v", n, err, called)
	}
}

// TestReadErrorsPerPage: when some pages of a read fail, the read returns the bytes
// before the lowest failed page, which are valid, and that page's error; failed and
// short pages are not cached.
func TestReadErrorsPerPage(t *testing.T) {
	const ps = 10
	const size = 95 // pages 0..9, the last one 5 bytes
	errBoom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		off    int64
		n      int
		fail   map[int64]error // by page
		short  map[int64]int64 // by page: bytes missing
		wantN  int
		wantIs error  // nil: no error
		wantIn string // substring of the error
	}{
		{"ok spanning pages", nil, 3, 40, nil, nil, 40, nil, ""},
		{"clipped at EOF", nil, 90, 40, nil, nil, 5, nil, ""},
		{"at EOF", nil, size, 10, nil, nil, 0, nil, ""},
		{"past EOF", nil, size + 100, 10, nil, nil, 0, nil, ""},
		{"empty dst", nil, 0, 0, nil, nil, 0, nil, ""},
		{"negative offset", nil, -1, 10, nil, nil, 0, nil, "negative offset"},
		{"first page fails", nil, 3, 40, map[int64]error{0: errBoom}, nil, 0, errBoom, ""},
		{"middle page fails", nil, 3, 40, map[int64]error{2: errBoom}, nil, 17, errBoom, ""},
		{"lowest failure wins", nil, 3, 40, map[int64]error{2: errBoom, 3: io.ErrClosedPipe}, nil, 17, errBoom, ""},
		{"single page fails", nil, 3, 4, map[int64]error{0: errBoom}, nil, 0, errBoom, ""},
		{"short middle page", nil, 0, 50, nil, map[int64]int64{1: 3}, 10, io.ErrUnexpectedEOF, "page 1"},
		{"short last page", nil, 80, 20, nil, map[int64]int64{9: 1}, 10, io.ErrUnexpectedEOF, "page 9"},
		{"cancelled", cancelled, 3, 40, nil, nil, 0, context.Canceled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			f := newRangeFake(size, 0)
			f.failAt, f.cutAt = map[int64]error{}, map[int64]int64{}
			for i, err := range tt.fail {
				f.failAt[i*ps] = err
			}
			for i, cut := range tt.short {
				f.cutAt[i*ps] = cut
			}
			c := mustCache(t, 100*ps, onePagePerFetch(ps))
			dst := make([]byte, tt.n)
			n, err := c.NewReader("obj", "v", size, f.fetch).ReadAt(ctx, dst, tt.off)
			if n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
			switch {
			case tt.wantIs == nil && tt.wantIn == "":
				if err != nil {
					t.Errorf("err = %v, want nil", err)
				}
			case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
				t.Errorf("err = %v, want %v", err, tt.wantIs)
			case tt.wantIn != "" && (err == nil || !strings.Contains(err.Error(), tt.wantIn)):
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantIn)
			}
			if n > 0 && !bytes.Equal(dst[:n], f.ref[tt.off:tt.off+int64(n)]) {
				t.Errorf("the %d bytes reported are not the object's", n)
			}
			// Failed and short pages are not left in the cache.
			for i := range int64(10) {
				if peek(c, "obj", "v", i) && (tt.fail[i] != nil || tt.short[i] != 0) {
					t.Errorf("bad page %d is cached", i)
				}
			}
		})
	}
}
