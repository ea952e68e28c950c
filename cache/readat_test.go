package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// refFetcher serves pages of ref and records how many fetches run at once.
type refFetcher struct {
	ref       []byte
	ps        int64
	calls     atomic.Int64
	active    atomic.Int64
	maxActive atomic.Int64
	delay     time.Duration
	fail      map[int64]error // page index -> error to return
	short     map[int64]int   // page index -> bytes to drop from the end
}

func (f *refFetcher) pageFetch(i int64) FetchFunc {
	return func(context.Context) ([]byte, error) {
		f.calls.Add(1)
		a := f.active.Add(1)
		defer f.active.Add(-1)
		for {
			m := f.maxActive.Load()
			if a <= m || f.maxActive.CompareAndSwap(m, a) {
				break
			}
		}
		if f.delay > 0 {
			time.Sleep(f.delay)
		}
		if err := f.fail[i]; err != nil {
			return nil, err
		}
		lo := i * f.ps
		hi := min(int64(len(f.ref)), lo+f.ps)
		if lo > hi {
			lo = hi
		}
		return bytes.Clone(f.ref[lo : hi-int64(f.short[i])]), nil
	}
}

func TestReadAtRandom(t *testing.T) {
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
			ref := make([]byte, tt.size)
			for i := range ref {
				ref[i] = byte(rng.UintN(256))
			}
			f := &refFetcher{ref: ref, ps: int64(tt.pageSize)}
			c := New(tt.capPages*int64(tt.pageSize), tt.pageSize, 10*time.Second)
			for range 300 {
				off := rng.Int64N(tt.size + int64(tt.pageSize) + 2) // sometimes at or past EOF
				n := rng.IntN(5*tt.pageSize + 3)
				dst := bytes.Repeat([]byte{0xEE}, n)
				got, err := c.ReadAt(context.Background(), "obj", "v1", tt.size, dst, off, f.pageFetch)
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
				if want > 0 && !bytes.Equal(dst[:got], ref[off:off+want]) {
					t.Fatalf("ReadAt(off %d, len %d): data differs from reference", off, n)
				}
				for i, b := range dst[got:] {
					if b != 0xEE {
						t.Fatalf("ReadAt(off %d, len %d) wrote past the clipped end at %d", off, n, got+i)
					}
				}
				s := c.Stats()
				if s.Pages > int(tt.capPages) || s.Bytes > tt.capPages*int64(tt.pageSize) {
					t.Fatalf("cache over capacity: %+v", s)
				}
			}
			if m := f.maxActive.Load(); m > maxParallelFetches {
				t.Errorf("%d fetches ran at once, limit %d", m, maxParallelFetches)
			}
		})
	}
}

func TestReadAtFetchesConcurrently(t *testing.T) {
	const ps = 16
	const pages = 30
	ref := make([]byte, ps*pages)
	for i := range ref {
		ref[i] = byte(i)
	}
	f := &refFetcher{ref: ref, ps: ps, delay: 20 * time.Millisecond}
	c := New(ps*pages, ps, 10*time.Second)
	dst := make([]byte, len(ref))
	n, err := c.ReadAt(context.Background(), "o", "v", int64(len(ref)), dst, 0, f.pageFetch)
	if err != nil || n != len(ref) || !bytes.Equal(dst, ref) {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if m := f.maxActive.Load(); m < 2 || m > maxParallelFetches {
		t.Errorf("max concurrent fetches = %d, want between 2 and %d", m, maxParallelFetches)
	}
	if c := f.calls.Load(); c != pages {
		t.Errorf("fetches = %d, want %d", c, pages)
	}
	// Second read: all hits, no fetch, and pageFetch not even consulted.
	called := false
	n, err = c.ReadAt(context.Background(), "o", "v", int64(len(ref)), dst, 5, func(int64) FetchFunc {
		called = true
		return nil
	})
	if err != nil || n != len(ref)-5 || called {
		t.Errorf("cached ReadAt = %d, %v, pageFetch called %v", n, err, called)
	}
}

func TestReadAtErrors(t *testing.T) {
	const ps = 10
	const size = 95 // pages 0..9, the last one 5 bytes
	ref := make([]byte, size)
	for i := range ref {
		ref[i] = byte('a' + i%26)
	}
	errBoom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		off    int64
		n      int
		fail   map[int64]error
		short  map[int64]int
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
		{"short middle page", nil, 0, 50, nil, map[int64]int{1: 3}, 10, io.ErrUnexpectedEOF, "page 1"},
		{"short last page", nil, 80, 20, nil, map[int64]int{9: 1}, 10, io.ErrUnexpectedEOF, "page 9"},
		{"cancelled", cancelled, 3, 40, nil, nil, 0, context.Canceled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			f := &refFetcher{ref: ref, ps: ps, fail: tt.fail, short: tt.short}
			c := New(100*ps, ps, 10*time.Second)
			dst := make([]byte, tt.n)
			n, err := c.ReadAt(ctx, "obj", "v", size, dst, tt.off, f.pageFetch)
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
			if n > 0 && !bytes.Equal(dst[:n], ref[tt.off:tt.off+int64(n)]) {
				t.Errorf("the %d bytes reported are not the reference", n)
			}
			// Failed and short pages are not left in the cache.
			for i := range int64(10) {
				if ok := c.peek(PageKey{Object: "obj", Version: "v", Index: i}); ok && (tt.fail[i] != nil || tt.short[i] != 0) {
					t.Errorf("bad page %d is cached", i)
				}
			}
		})
	}
}

func TestReadAtVersionsDistinct(t *testing.T) {
	const ps = 8
	v1 := []byte("version one, the old content of it")
	v2 := []byte("VERSION TWO, NEW!")
	fetcher := func(ref []byte) func(int64) FetchFunc {
		return (&refFetcher{ref: ref, ps: ps}).pageFetch
	}
	c := New(64*ps, ps, time.Second)
	tests := []struct {
		version string
		ref     []byte
	}{{"e1", v1}, {"e2", v2}, {"e1", v1}, {"e2", v2}}
	for _, tt := range tests {
		dst := make([]byte, 64)
		n, err := c.ReadAt(context.Background(), "o", tt.version, int64(len(tt.ref)), dst, 0, fetcher(tt.ref))
		if err != nil || !bytes.Equal(dst[:n], tt.ref) {
			t.Errorf("version %s: got %q, %v; want %q", tt.version, dst[:n], err, tt.ref)
		}
	}
	if s := c.Stats(); s.Fetches != int64((len(v1)+ps-1)/ps+(len(v2)+ps-1)/ps) {
		t.Errorf("Fetches = %d: each version's pages should be fetched once", s.Fetches)
	}
}
