package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoalescing: the missing pages one read needs are fetched with one ranged fetch
// per run of adjacent pages.
func TestCoalescing(t *testing.T) {
	const ps = 1024
	const size = 100*ps + 10
	tests := []struct {
		name      string
		cached    []int64 // pages read before
		off       int64
		n         int
		wantCalls int
		wantLens  []int64
	}{
		{"10 missing pages", nil, 20 * ps, 10 * ps, 1, []int64{10 * ps}},
		{"10 pages unaligned", nil, 20*ps + 5, 9*ps + 10, 1, []int64{10 * ps}},
		{"one page", nil, 30*ps + 5, 10, 1, []int64{ps}},
		{"a cached page in the middle", []int64{25}, 20 * ps, 10 * ps, 2, []int64{5 * ps, 4 * ps}},
		{"all cached", []int64{20, 21}, 20 * ps, 2 * ps, 0, nil},
		{"more than a block", nil, 0, 20 * ps, 2, []int64{16 * ps, 4 * ps}},
		{"to the end", nil, 95 * ps, 10 * ps, 1, []int64{5*ps + 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, 200*ps, Options{PageSize: ps, ReadAheadBlock: 16 * ps})
			f := newRangeFake(size, 0)
			r := c.NewReader("o", "v", size, f.fetch)
			defer r.Close()
			for _, i := range tt.cached {
				// Through a second Reader, at offsets no sequential detection links.
				if _, err := c.NewReader("o", "v", size, f.fetch).ReadAt(context.Background(), make([]byte, 1), i*ps); err != nil {
					t.Fatal(err)
				}
			}
			before := len(f.lengths())
			dst := make([]byte, tt.n)
			n, err := r.ReadAt(context.Background(), dst, tt.off)
			if want := min(int64(tt.n), size-tt.off); err != nil || int64(n) != want || !bytes.Equal(dst[:n], f.ref[tt.off:tt.off+want]) {
				t.Fatalf("ReadAt = %d, %v, or wrong data", n, err)
			}
			lens := f.lengths()[before:]
			if len(lens) != tt.wantCalls {
				t.Fatalf("%d fetch calls %v, want %d", len(lens), lens, tt.wantCalls)
			}
			// Fetches of one read run concurrently: compare as multisets.
			got := map[int64]int{}
			for _, l := range lens {
				got[l]++
			}
			for _, l := range tt.wantLens {
				got[l]--
			}
			for l, k := range got {
				if k != 0 {
					t.Errorf("fetch lengths %v, want %v (length %d)", lens, tt.wantLens, l)
				}
			}
			if readAheadStarted(c) {
				t.Errorf("one read started read-ahead")
			}
		})
	}
}

// TestSequentialReader reads a 64 MiB object front to back: read-ahead must fetch it in
// blocks, several at once, and never twice.
func TestSequentialReader(t *testing.T) {
	const (
		size     = 64 << 20
		ps       = 128 << 10
		block    = 8 << 20
		parallel = 4
		capacity = 128 << 20 // window up to 32 MiB
	)
	type read struct{ off, n int64 }
	inOrder := func(n int64) []read {
		var rs []read
		for off := int64(0); off < size; off += n {
			rs = append(rs, read{off, n})
		}
		return rs
	}
	swapped := func(n int64) []read {
		rs := inOrder(n)
		for i := 0; i+1 < len(rs); i += 2 {
			rs[i], rs[i+1] = rs[i+1], rs[i]
		}
		return rs
	}
	tests := []struct {
		name       string
		reads      []read
		goroutines int
		minBlocks  int // fetches of exactly one block
	}{
		{"1 MiB reads", inOrder(1 << 20), 1, size/block - 1},
		{"128 KiB reads, pairs swapped", swapped(128 << 10), 1, size/block - 1},
		{"128 KiB reads from 4 goroutines", inOrder(128 << 10), 4, size/block - 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, capacity, Options{PageSize: ps, FetchTimeout: time.Minute,
				ReadAheadBlock: block, ReadAheadParallel: parallel})
			f := newRangeFake(size, 20*time.Millisecond)
			r := c.NewReader("big", "v1", size, f.fetch)
			defer r.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range tt.goroutines {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(len(tt.reads)) {
							return
						}
						rd := tt.reads[i]
						dst := make([]byte, rd.n)
						n, err := r.ReadAt(context.Background(), dst, rd.off)
						if err != nil || int64(n) != rd.n || !bytes.Equal(dst, f.ref[rd.off:rd.off+rd.n]) {
							t.Errorf("ReadAt(%d) = %d, %v, or wrong data", rd.off, n, err)
							return
						}
					}
				})
			}
			wg.Wait()
			waitFor(t, "fetches to end", func() bool { return f.active.Load() == 0 })

			lens := f.lengths()
			blocks := 0
			for _, l := range lens {
				if l == block {
					blocks++
				}
			}
			t.Logf("%d fetches (%d of a block), %d bytes, at most %d at once", len(lens), blocks, f.bytes.Load(), f.maxActive.Load())
			// Reads are at most 1 MiB: only read-ahead fetches whole blocks.
			if blocks < tt.minBlocks || blocks*block < size/2 {
				t.Errorf("%d of %d fetches were of a block, want at least %d: %v", blocks, len(lens), tt.minBlocks, lens)
			}
			if got := f.bytes.Load(); got > size+c.raMax || got != size {
				t.Errorf("fetched %d bytes for an object of %d: some were fetched twice", got, size)
			}
			if m := f.maxActive.Load(); m < 2 || m > parallel+1 {
				// +1: a read's own fetch may run beside the read-ahead while the stream starts.
				t.Errorf("at most %d fetches at once, want 2 to %d", m, parallel)
			}
		})
	}
}

// TestReadAheadParallel: once the window has grown, the fake sees ReadAheadParallel
// fetches at once, and no more.
func TestReadAheadParallel(t *testing.T) {
	const ps, size = 4 << 10, 16 << 20
	for _, parallel := range []int{1, 2, 4} {
		c := mustCache(t, 64<<20, Options{PageSize: ps, ReadAheadBlock: 256 << 10, ReadAheadParallel: parallel})
		f := newRangeFake(size, 10*time.Millisecond)
		r := c.NewReader("o", "v", size, f.fetch)
		dst := make([]byte, 64<<10)
		for off := int64(0); off < size; off += int64(len(dst)) {
			if _, err := r.ReadAt(context.Background(), dst, off); err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
		if m := f.maxActive.Load(); m != int64(parallel) {
			t.Errorf("ReadAheadParallel %d: at most %d fetches at once", parallel, m)
		}
		if got := f.bytes.Load(); got != size {
			t.Errorf("ReadAheadParallel %d: fetched %d bytes of %d", parallel, got, size)
		}
	}
}

// TestReadAheadWindowBound: a cache too small for the default window reads ahead
// less, and still never fetches a page twice.
func TestReadAheadWindowBound(t *testing.T) {
	const ps, size = 128 << 10, 64 << 20
	tests := []struct {
		name     string
		capacity int64
		wantMax  int64 // longest fetch
	}{
		{"16 MiB cache", 16 << 20, 4 << 20},
		{"8 MiB cache", 8 << 20, 2 << 20},
		{"512 KiB cache: no read-ahead", 512 << 10, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, tt.capacity, Options{PageSize: ps})
			f := newRangeFake(size, time.Millisecond)
			r := c.NewReader("o", "v", size, f.fetch)
			defer r.Close()
			dst := make([]byte, 1<<20)
			for off := int64(0); off < size; off += int64(len(dst)) {
				n, err := r.ReadAt(context.Background(), dst, off)
				if err != nil || !bytes.Equal(dst[:n], f.ref[off:off+int64(n)]) {
					t.Fatalf("ReadAt(%d) = %d, %v, or wrong data", off, n, err)
				}
				if pages, b := contents(t, c); b > tt.capacity {
					t.Fatalf("over capacity: %d pages, %d bytes", pages, b)
				}
			}
			waitFor(t, "fetches to end", func() bool { return f.active.Load() == 0 })
			for _, l := range f.lengths() {
				if l > tt.wantMax {
					t.Errorf("a fetch of %d bytes, more than %d", l, tt.wantMax)
				}
			}
			if got := f.bytes.Load(); got != size {
				t.Errorf("fetched %d bytes of %d: read-ahead thrashed", got, size)
			}
		})
	}
}

// TestReadAheadBudget: many sequential Readers together keep no more read-ahead in
// flight than a quarter of the cache.
func TestReadAheadBudget(t *testing.T) {
	const ps, size, readers = 64 << 10, 8 << 20, 8
	tests := []struct {
		name     string
		capacity int64
	}{
		{"32 MiB cache", 32 << 20},
		{"64 MiB cache", 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, tt.capacity, Options{PageSize: ps, ReadAheadBlock: 1 << 20, FetchTimeout: time.Minute})
			var wg sync.WaitGroup
			for i := range readers {
				wg.Go(func() {
					f := newRangeFake(size+int64(i), 5*time.Millisecond)
					r := c.NewReader("o"+strconv.Itoa(i), "v", int64(len(f.ref)), f.fetch)
					defer r.Close()
					dst := make([]byte, 256<<10)
					for off := int64(0); off < int64(len(f.ref)); off += int64(len(dst)) {
						n, err := r.ReadAt(context.Background(), dst, off)
						if err != nil || !bytes.Equal(dst[:n], f.ref[off:off+int64(n)]) {
							t.Errorf("reader %d: ReadAt(%d) = %d, %v, or wrong data", i, off, n, err)
							return
						}
					}
				})
			}
			wg.Wait()
			c.mu.Lock()
			hw, budget := c.raInflightMax, c.raBudget
			c.mu.Unlock()
			t.Logf("read-ahead in flight at most %d bytes, budget %d", hw, budget)
			if hw == 0 || hw > budget || budget > tt.capacity/4 {
				t.Errorf("read-ahead in flight at most %d bytes, budget %d, capacity %d", hw, budget, tt.capacity)
			}
		})
	}
}

// TestRandomReader: random small reads fetch the pages they need, not blocks.
func TestRandomReader(t *testing.T) {
	const size, ps = 64 << 20, 128 << 10
	tests := []struct {
		name string
		n    int
	}{
		{"4 KiB", 4 << 10},
		{"1 byte", 1},
		{"64 KiB", 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, 256<<20, Options{PageSize: ps})
			f := newRangeFake(size, 0)
			r := c.NewReader("o", "v", size, f.fetch)
			defer r.Close()
			rng := rand.New(rand.NewPCG(3, uint64(tt.n)))
			dst := make([]byte, tt.n)
			for range 100 {
				off := rng.Int64N(size - int64(tt.n))
				n, err := r.ReadAt(context.Background(), dst, off)
				if err != nil || n != tt.n || !bytes.Equal(dst, f.ref[off:off+int64(n)]) {
					t.Fatalf("ReadAt(%d) = %d, %v, or wrong data", off, n, err)
				}
			}
			got := f.bytes.Load()
			t.Logf("fetched %d bytes = %.1f pages in %d calls", got, float64(got)/ps, f.calls.Load())
			// A read within one page needs one; one that crosses a boundary, two.
			want := 100 * (1 + float64(tt.n-1)/ps) * ps
			if float64(got) < 0.7*want || float64(got) > 1.1*want {
				t.Errorf("fetched %d bytes, want about %.0f", got, want)
			}
			for _, l := range f.lengths() {
				if l > 2*ps {
					t.Errorf("a fetch of %d bytes: more than the pages of one read", l)
				}
			}
			if readAheadStarted(c) {
				t.Errorf("random reads read ahead")
			}
		})
	}
}

// TestReadersShare: Readers of one version share pages; another version does not.
func TestReadersShare(t *testing.T) {
	const size, ps = 20<<20 + 12345, 128 << 10
	c := mustCache(t, 128<<20, Options{PageSize: ps, FetchTimeout: time.Minute})
	f := newRangeFake(size, time.Millisecond)
	readAll := func(r *Reader) {
		t.Helper()
		dst := make([]byte, 1<<20)
		for off := int64(0); off < size; off += int64(len(dst)) {
			n, err := r.ReadAt(context.Background(), dst, off)
			if err != nil || !bytes.Equal(dst[:n], f.ref[off:off+int64(n)]) {
				t.Fatalf("ReadAt(%d) = %d, %v, or wrong data", off, n, err)
			}
		}
		r.Close()
		waitFor(t, "fetches to end", func() bool { return f.active.Load() == 0 })
	}
	tests := []struct {
		version   string
		wantBytes int64 // fetched by this reader
	}{
		{"v1", size},
		{"v1", 0},
		{"v2", size},
		{"v1", 0},
	}
	for _, tt := range tests {
		before := f.bytes.Load()
		calls := f.calls.Load()
		readAll(c.NewReader("o", tt.version, size, f.fetch))
		if got := f.bytes.Load() - before; got != tt.wantBytes {
			t.Errorf("version %s: fetched %d bytes in %d calls, want %d", tt.version, got, f.calls.Load()-calls, tt.wantBytes)
		}
	}
}

// TestReaderData compares random reads, some in sequential runs, of several
// concurrent Readers with the object, across page and block boundaries.
func TestReaderData(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int
		size     int64
		capPages int64
		block    int64 // pages
	}{
		{"size not a page multiple", 100, 12345, 400, 4},
		{"size a page multiple", 64, 64 * 200, 400, 8},
		{"tiny pages", 7, 5001, 2000, 16},
		{"evicting cache", 50, 20000, 16, 1},
		{"single short page", 4096, 10, 4, 1},
		{"one byte pages", 1, 977, 40, 2},
		{"empty object", 64, 0, 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, tt.capPages*int64(tt.pageSize), Options{PageSize: tt.pageSize,
				ReadAheadBlock: tt.block * int64(tt.pageSize), FetchTimeout: 10 * time.Second})
			f := newRangeFake(tt.size, 0)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					r := c.NewReader("obj", "v", tt.size, f.fetch)
					defer r.Close()
					rng := rand.New(rand.NewPCG(uint64(tt.size), uint64(g)))
					var pos int64
					for j := range 300 {
						off := rng.Int64N(tt.size + int64(tt.pageSize) + 2) // sometimes at or past EOF
						if j%20 < 10 {
							off = pos // a sequential run
						}
						n := rng.IntN(5*tt.pageSize + 3)
						pos = off + int64(n)
						dst := bytes.Repeat([]byte{0xEE}, n)
						got, err := r.ReadAt(context.Background(), dst, off)
						if err != nil {
							t.Errorf("ReadAt(off %d, len %d): %v", off, n, err)
							return
						}
						want := int64(0)
						if off < tt.size {
							want = min(int64(n), tt.size-off)
						}
						if int64(got) != want || (want > 0 && !bytes.Equal(dst[:got], f.ref[off:off+want])) {
							t.Errorf("ReadAt(off %d, len %d) = %d bytes, want %d, or wrong data", off, n, got, want)
							return
						}
						for i, b := range dst[got:] {
							if b != 0xEE {
								t.Errorf("ReadAt(off %d, len %d) wrote past the clipped end at %d", off, n, got+i)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			if pages, b := contents(t, c); pages > int(tt.capPages) || b > tt.capPages*int64(tt.pageSize) {
				t.Errorf("over capacity: %d pages, %d bytes", pages, b)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	const ps = 10
	const size = 95 // pages 0..9, the last one 5 bytes
	errBoom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		nilFetch  bool
		fail      error
		cut, pad  int64
		off       int64
		n         int
		wantN     int
		wantIs    error
		wantIn    string
		wantPages int // cached after
	}{
		{"ok", nil, false, nil, 0, 0, 3, 40, 40, nil, "", 5},
		{"at EOF", nil, false, nil, 0, 0, size, 10, 0, nil, "", 0},
		{"past EOF", nil, false, nil, 0, 0, size + 100, 10, 0, nil, "", 0},
		{"clipped at EOF", nil, false, nil, 0, 0, 90, 40, 5, nil, "", 1},
		{"empty dst", nil, false, nil, 0, 0, 0, 0, 0, nil, "", 0},
		{"negative offset", nil, false, nil, 0, 0, -1, 10, 0, nil, "negative offset", 0},
		{"fetch fails", nil, false, errBoom, 0, 0, 3, 40, 0, errBoom, "pages 0-4", 0},
		{"short answer", nil, false, nil, 13, 0, 3, 40, 27, io.ErrUnexpectedEOF, "page 3", 3},
		{"long answer", nil, false, nil, 0, 1, 3, 40, 0, nil, "of the 50 asked", 0},
		{"no fetch function", nil, true, nil, 0, 0, 3, 4, 0, nil, "no fetch function", 0},
		{"cancelled", cancelled, false, nil, 0, 0, 3, 40, 0, context.Canceled, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			c := mustCache(t, 100*ps, Options{PageSize: ps})
			f := newRangeFake(size, 0)
			f.fail, f.cut, f.pad = tt.fail, tt.cut, tt.pad
			fetch := RangeFunc(f.fetch)
			if tt.nilFetch {
				fetch = nil
			}
			r := c.NewReader("obj", "v", size, fetch)
			defer r.Close()
			dst := make([]byte, tt.n)
			n, err := r.ReadAt(ctx, dst, tt.off)
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
			if pages, _ := contents(t, c); pages != tt.wantPages {
				t.Errorf("%d pages cached, want %d", pages, tt.wantPages)
			}
			if tt.ctx == nil && !tt.nilFetch && tt.off >= 0 {
				// Errors are not cached: the same read works once the fetch does.
				f.mu.Lock()
				f.fail, f.cut, f.pad = nil, 0, 0
				f.mu.Unlock()
				n, err := r.ReadAt(context.Background(), dst, tt.off)
				if want := max(0, min(int64(tt.n), size-tt.off)); err != nil || int64(n) != want {
					t.Errorf("second ReadAt = %d, %v; want %d", n, err, want)
				}
			}
		})
	}
}

// TestReaderWaitsForReadAhead: a read of pages that read-ahead is fetching waits for
// that fetch instead of starting its own.
func TestReaderWaitsForReadAhead(t *testing.T) {
	const ps, size = 1024, 64 * 1024
	c := mustCache(t, 1<<20, Options{PageSize: ps, ReadAheadBlock: 16 * ps})
	f := newRangeFake(size, 0)
	r := c.NewReader("o", "v", size, f.fetch)
	defer r.Close()
	dst := make([]byte, ps)
	for off := int64(0); off < 2*ps; off += ps { // the second read starts read-ahead
		if _, err := r.ReadAt(context.Background(), dst, off); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "read-ahead", func() bool { return f.active.Load() == 0 })
	hold := make(chan struct{})
	f.mu.Lock()
	f.hold = hold
	f.mu.Unlock()
	// Read on up to the read-ahead ahead, then past it: the reads that follow must
	// wait for the held read-ahead fetches, not fetch.
	calls := f.calls.Load()
	done := make(chan error)
	go func() {
		var err error
		for off := int64(2 * ps); off < 40*ps && err == nil; off += ps {
			_, err = r.ReadAt(context.Background(), dst, off)
		}
		done <- err
	}()
	waitFor(t, "read-ahead fetches", func() bool { return f.active.Load() > 0 })
	time.Sleep(20 * time.Millisecond)
	held := f.calls.Load() - calls
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if held > int64(c.raParallel) {
		t.Errorf("%d fetches while read-ahead was held, want at most %d", held, c.raParallel)
	}
	if got := f.bytes.Load(); got > size {
		t.Errorf("fetched %d bytes of %d", got, size)
	}
}

// TestCloseStopsReadAhead: after Reader.Close nothing more is fetched and every
// goroutine ends; PageCache.Close cancels fetches in flight.
func TestCloseStopsReadAhead(t *testing.T) {
	const ps, size = 128 << 10, 64 << 20
	tests := []struct {
		name      string
		closeTheC bool // close the cache instead of the Reader, with fetches that never end by themselves
	}{
		{"Reader.Close", false},
		{"PageCache.Close", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseline := runtime.NumGoroutine()
			c, err := New(128<<20, Options{PageSize: ps, FetchTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			f := newRangeFake(size, 0)
			hold := make(chan struct{}) // fetches wait for it, or for their ctx to end
			f.hold = hold
			released := false
			release := func() {
				if !released {
					close(hold)
					released = true
				}
			}
			defer release()
			r := c.NewReader("o", "v", size, f.fetch)
			// Start read-ahead without waiting for it: reads that give up at once.
			dst := make([]byte, 1<<20)
			for off := int64(0); off < 3<<20; off += int64(len(dst)) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				_, _ = r.ReadAt(ctx, dst, off)
				cancel()
			}
			waitFor(t, "the reads' fetch and read-ahead", func() bool { return f.active.Load() >= 2 })
			if tt.closeTheC {
				c.Close()
				if a := f.active.Load(); a != 0 {
					t.Errorf("%d fetches still running after PageCache.Close", a)
				}
			} else {
				r.Close()
				release() // the fetches in flight end; no new one may start
			}
			waitGoroutines(t, baseline)
			calls := f.calls.Load()
			time.Sleep(50 * time.Millisecond)
			if f.calls.Load() != calls {
				t.Errorf("fetches went on after Close")
			}
			if got := f.bytes.Load(); got > 3<<20+2*c.raMax {
				t.Errorf("fetched %d bytes for a 3 MiB read", got)
			}
		})
	}
}

// BenchmarkSequentialReader reads a 64 MiB object in 1 MiB reads from a store that takes
// 2 ms per request: read-ahead hides that latency.
func BenchmarkSequentialReader(b *testing.B) {
	const size = 64 << 20
	ref := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(ref)
	fetch := func(ctx context.Context, off, length int64) ([]byte, error) {
		time.Sleep(2 * time.Millisecond)
		return bytes.Clone(ref[off : off+length]), nil
	}
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"readahead", Options{}},
		{"no-readahead", Options{NoReadAhead: true}},
		{"readahead-1MiB-pages", Options{PageSize: 1 << 20}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opts.FetchTimeout = time.Minute
			c := mustCache(b, 256<<20, bc.opts)
			dst := make([]byte, 1<<20)
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				r := c.NewReader("o", "v"+strconv.Itoa(i), size, bytesFunc(fetch))
				for off := int64(0); off < size; off += int64(len(dst)) {
					if _, err := r.ReadAt(context.Background(), dst, off); err != nil {
						b.Fatal(err)
					}
				}
				r.Close()
			}
		})
	}
}

// TestRandomLargeReadsSplitByTheKernel: a random 1 MiB read reaches FUSE as several
// 128 KiB reads in a row, which look sequential; they must not start read-ahead.
func TestRandomLargeReadsSplitByTheKernel(t *testing.T) {
	const size, ps, piece = 256 << 20, 128 << 10, 128 << 10
	c := mustCache(t, 256<<20, Options{PageSize: ps})
	f := newRangeFake(size, 0)
	r := c.NewReader("o", "v", size, f.fetch)
	defer r.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	dst := make([]byte, piece)
	for range 30 {
		base := rng.Int64N(size/(1<<20)-1) << 20
		for sub := int64(0); sub < 1<<20; sub += piece {
			n, err := r.ReadAt(context.Background(), dst, base+sub)
			if err != nil || n != piece || !bytes.Equal(dst, f.ref[base+sub:base+sub+piece]) {
				t.Fatalf("ReadAt(%d) = %d, %v, or wrong data", base+sub, n, err)
			}
		}
	}
	t.Logf("30 random 1 MiB reads in 128 KiB pieces: fetched %d MiB", f.bytes.Load()>>20)
	if readAheadStarted(c) {
		t.Errorf("random 1 MiB reads started read-ahead")
	}
}
