package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keepMapped makes Close leave the arena mapped, so that a test can look at it
// afterwards; the arena is unmapped at the end of the test. The test must close
// the cache before then (defer c.Close(), not mustCache's cleanup).
func keepMapped(t *testing.T, c *PageCache) []byte {
	mem, unmap := c.mem.mem, c.mem.unmap
	c.mem.unmap = nil
	t.Cleanup(func() {
		if unmap != nil {
			_ = unmap(mem)
		}
	})
	return mem
}

func TestLocked(t *testing.T) {
	// mlock may be refused (RLIMIT_MEMLOCK): that must not stop the cache.
	tests := []struct {
		name     string
		capacity int64
	}{
		{"small", 64 << 10},
		{"beyond a usual RLIMIT_MEMLOCK", 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, tt.capacity, Options{PageSize: 4096})
			t.Logf("Locked() = %v", c.Locked())
			f := newRangeFake(1, 0)
			dst := make([]byte, 1)
			if n, err := c.NewReader("o", "v", 1, f.fetch).ReadAt(context.Background(), dst, 0); err != nil || !bytes.Equal(dst[:n], f.ref) {
				t.Errorf("ReadAt = %d, %v, or wrong data", n, err)
			}
		})
	}
}

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
			if c.PageSize() != tt.wantPS || c.maxPages != tt.wantPages || len(c.slots) != tt.wantPages {
				t.Errorf("page size %d, pages %d (%d slots); want %d, %d", c.PageSize(), c.maxPages, len(c.slots), tt.wantPS, tt.wantPages)
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

func TestArenaCapacityBound(t *testing.T) {
	tests := []struct {
		name     string
		capacity int64
		pageSize int
		size     int64 // of the object read
	}{
		{"exact", 16 * 1024, 1024, 100 * 1024},
		{"not a multiple", 16*1024 + 1000, 1024, 100*1024 + 17},
		{"one page", 1000, 1024, 50 * 1024},
		{"object smaller than the cache", 64 * 1024, 1024, 10*1024 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, tt.capacity, Options{PageSize: tt.pageSize, ReadAheadBlock: 4 * int64(tt.pageSize)})
			wantPages := max(1, int(tt.capacity/int64(tt.pageSize)))
			if c.maxPages != wantPages || len(c.slots) != wantPages {
				t.Fatalf("%d pages, %d slots; want %d", c.maxPages, len(c.slots), wantPages)
			}
			f := newRangeFake(tt.size, 0)
			r := c.NewReader("o", "v", tt.size, f.fetch)
			defer r.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			buf := make([]byte, 3*tt.pageSize)
			for i := range 300 {
				off := rng.Int64N(tt.size)
				if i%2 == 1 { // sequential runs too, for read-ahead
					off = int64(i/2*len(buf)) % tt.size
				}
				n, err := r.ReadAt(context.Background(), buf, off)
				if err != nil || !bytes.Equal(buf[:n], f.ref[off:off+int64(n)]) {
					t.Fatalf("ReadAt(%d) = %d, %v, or wrong data", off, n, err)
				}
				if pages, b := contents(t, c); b > int64(wantPages*tt.pageSize) || pages > wantPages {
					t.Fatalf("%d pages, %d bytes: over capacity", pages, b)
				}
			}
			waitFor(t, "fetches to end", func() bool { return f.active.Load() == 0 })
			wantFull := min(wantPages, int((tt.size+int64(tt.pageSize)-1)/int64(tt.pageSize)))
			if pages, _ := contents(t, c); pages != wantFull {
				t.Errorf("%d pages cached, want %d", pages, wantFull)
			}
		})
	}
}

// fill caches object (one page of n bytes b) in c.
func fill(t *testing.T, c *PageCache, object string, b byte, n int) {
	t.Helper()
	r := c.NewReader(object, "v", int64(n), func(_ context.Context, _, length int64) ([]byte, error) {
		return bytes.Repeat([]byte{b}, int(length)), nil
	})
	if _, err := r.ReadAt(context.Background(), make([]byte, n), 0); err != nil {
		t.Fatal(err)
	}
}

// TestPageZeroedWhenItLeaves checks, in the arena itself, that a page's bytes are
// zeroed when it leaves the cache, whichever way it leaves.
func TestPageZeroedWhenItLeaves(t *testing.T) {
	const ps = 64
	tests := []struct {
		name  string
		leave func(t *testing.T, c *PageCache)
	}{
		{"evicted", func(t *testing.T, c *PageCache) {
			// Pages of one byte: the slot of a is reused, and all but its first
			// byte must be zero.
			for i := range 4 {
				fill(t, c, fmt.Sprint("b", i), 0x01, 1)
			}
		}},
		{"dropped as short", func(t *testing.T, c *PageCache) {
			// a's page has ps-1 bytes but a Reader that believes the version to be
			// 10*ps long needs ps.
			r := c.NewReader("a", "v", 10*ps, func(context.Context, int64, int64) ([]byte, error) {
				return nil, errors.New("unexpected fetch")
			})
			if _, err := r.ReadAt(context.Background(), make([]byte, ps), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("short page read: %v", err)
			}
		}},
		{"closed", func(t *testing.T, c *PageCache) { c.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(4*ps, Options{PageSize: ps, FetchTimeout: time.Second, NoReadAhead: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			mem := keepMapped(t, c)
			fill(t, c, "a", 0xA5, ps-1)
			i := slotOf(c, "a", "v", 0)
			if i < 0 {
				t.Fatal("page not cached")
			}
			slotMem := mem[int(i)*ps : (int(i)+1)*ps]
			if allZero(slotMem) {
				t.Fatal("arena slot is zero while the page is cached")
			}
			tt.leave(t, c)
			if slotOf(c, "a", "v", 0) >= 0 {
				t.Fatal("page still cached")
			}
			if bytes.IndexByte(slotMem, 0xA5) >= 0 || !allZero(slotMem[1:]) {
				t.Errorf("arena slot %d not zeroed: %x", i, slotMem)
			}
		})
	}
}

// TestPinnedPageNotEvicted holds a copy from a cached page in progress while other
// pages need its slot: they must take others, or not be stored at all. A page
// dropped while it is pinned is zeroed once the copy is done.
func TestPinnedPageNotEvicted(t *testing.T) {
	const ps = 32
	tests := []struct {
		name      string
		pages     int64 // cache size in pages
		others    int   // other pages fetched during the copy
		drop      bool  // drop the pinned page (a Reader finds it short) during the copy
		wantPages int   // pages cached during the copy
	}{
		{"one other slot", 2, 5, false, 2},
		{"no other slot", 1, 3, false, 1},
		{"dropped while pinned", 2, 1, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.pages*ps, Options{PageSize: ps, FetchTimeout: time.Second, NoReadAhead: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			mem := keepMapped(t, c)
			fa := newRangeFake(ps-1, 0) // a page short of a full one: a longer Reader finds it short
			want := fa.ref
			ra := c.NewReader("a", "v", ps-1, fa.fetch)
			if _, err := ra.ReadAt(context.Background(), make([]byte, ps), 0); err != nil {
				t.Fatal(err)
			}
			slotA := slotOf(c, "a", "v", 0)
			slotMem := mem[int(slotA)*ps : (int(slotA)+1)*ps]
			pinned, resume := make(chan struct{}), make(chan struct{})
			var first atomic.Bool
			c.testHookPinned = func(k pageKey) {
				if k.object == "a" && first.CompareAndSwap(false, true) {
					close(pinned)
					<-resume
				}
			}
			done := make(chan error)
			dst := make([]byte, ps)
			go func() {
				_, err := ra.ReadAt(context.Background(), dst, 0)
				done <- err
			}()
			<-pinned
			if tt.drop {
				r := c.NewReader("a", "v", 2*ps, fa.fetch)
				if _, err := r.ReadAt(context.Background(), make([]byte, ps), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("read of the short page: %v", err)
				}
			}
			fb := newRangeFake(int64(tt.others)*ps, 0)
			rb := c.NewReader("b", "v", int64(len(fb.ref)), fb.fetch)
			for i := range int64(tt.others) {
				got := make([]byte, ps)
				if n, err := rb.ReadAt(context.Background(), got, i*ps); err != nil || n != ps || !bytes.Equal(got, fb.ref[i*ps:(i+1)*ps]) {
					t.Fatalf("ReadAt(page %d of b) = %d, %v, or wrong data", i, n, err)
				}
			}
			if pages, _ := contents(t, c); pages != tt.wantPages {
				t.Errorf("%d pages cached during the copy, want %d", pages, tt.wantPages)
			}
			if !bytes.Equal(slotMem[:ps-1], want) {
				t.Fatalf("pinned page changed during the copy: %q", slotMem)
			}
			if !tt.drop && slotOf(c, "a", "v", 0) != slotA {
				t.Errorf("pinned page moved or left")
			}
			close(resume)
			if err := <-done; err != nil || !bytes.Equal(dst[:ps-1], want) {
				t.Fatalf("ReadAt = %q, %v; want %q", dst, err, want)
			}
			if tt.drop && !allZero(slotMem) {
				t.Errorf("dropped page not zeroed after its copy")
			}
			c.testHookPinned = nil
			// Unpinned, it is an ordinary page again: enough new pages evict it.
			fc := newRangeFake((tt.pages+1)*ps, 0)
			rc := c.NewReader("c", "v", int64(len(fc.ref)), fc.fetch)
			for i := range tt.pages + 1 {
				if _, err := rc.ReadAt(context.Background(), make([]byte, ps), i*ps); err != nil {
					t.Fatal(err)
				}
			}
			if slotOf(c, "a", "v", 0) >= 0 {
				t.Errorf("page a never evicted after its copy")
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.pinned != 0 || len(c.free)+len(c.index) != int(tt.pages) {
				t.Errorf("%d pins left, %d free + %d cached slots of %d", c.pinned, len(c.free), len(c.index), tt.pages)
			}
		})
	}
}

// TestPinStress has many goroutines read through a tiny cache, so that pages are
// evicted all the time while others copy from them. A page zeroed or reused under a
// copy shows as wrong data.
func TestPinStress(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int
		pages    int64
		size     int64
	}{
		{"3 pages", 64, 3, 64*40 + 5},
		{"1 page", 50, 1, 1000},
		{"16 pages, read-ahead", 128, 16, 128 * 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.pages*int64(tt.pageSize), Options{PageSize: tt.pageSize, FetchTimeout: 10 * time.Second,
				ReadAheadBlock: 2 * int64(tt.pageSize)})
			if err != nil {
				t.Fatal(err)
			}
			f := newRangeFake(tt.size, 0)
			var wg sync.WaitGroup
			for g := range 24 {
				wg.Go(func() {
					r := c.NewReader("o", "v", tt.size, f.fetch)
					defer r.Close()
					rng := rand.New(rand.NewPCG(uint64(g), 7))
					pos := int64(0)
					for range 150 {
						n := rng.IntN(3*tt.pageSize) + 1
						off := rng.Int64N(tt.size)
						if g%3 == 0 { // sequential readers
							off, pos = pos, (pos+int64(n))%tt.size
						}
						dst := make([]byte, n)
						var got int
						var err error
						if g%4 == 1 { // a new Reader for each read, as for a file opened once per read
							got, err = c.NewReader("o", "v", tt.size, f.fetch).ReadAt(context.Background(), dst, off)
						} else {
							got, err = r.ReadAt(context.Background(), dst, off)
						}
						if err != nil {
							t.Error(err)
							return
						}
						if want := min(int64(n), tt.size-off); int64(got) != want || !bytes.Equal(dst[:got], f.ref[off:off+want]) {
							t.Errorf("read(%d, %d) = %d bytes, or wrong data", off, n, got)
							return
						}
					}
				})
			}
			wg.Wait()
			c.Close()
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.pinned != 0 {
				t.Errorf("%d pins left", c.pinned)
			}
		})
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
		slow := c.NewReader("slow", "v", 10, func(ctx context.Context, _, _ int64) ([]byte, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
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

func ExamplePageCache_NewReader() {
	obj := bytes.Repeat([]byte("0123456789"), 100_000) // 1,000,000 bytes
	c, err := New(64<<20, Options{PageSize: 64 << 10, FetchTimeout: time.Minute})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	r := c.NewReader("dir/file", "etag-1", int64(len(obj)), func(ctx context.Context, off, length int64) ([]byte, error) {
		return bytes.Clone(obj[off : off+length]), nil // a ranged GET
	})
	defer r.Close()
	buf := make([]byte, 15)
	n, err := r.ReadAt(context.Background(), buf, 999_990)
	fmt.Printf("%d %v %q\n", n, err, buf[:n])
	// Output: 10 <nil> "0123456789"
}
