package cache

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// slotOf returns the arena slot holding key, or -1.
func (c *PageCache) slotOf(key PageKey) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.index[key]; ok {
		return i
	}
	return -1
}

// allZero reports whether b holds only zeros.
func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// keepMapped makes Close leave the arena mapped, so that a test can look at it
// afterwards; the arena is unmapped at the end of the test.
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
			c, err := NewWithOptions(tt.capacity, Options{PageSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			t.Logf("Locked() = %v", c.Locked())
			key := PageKey{Object: "o", Version: "v"}
			if got, err := c.Get(context.Background(), key, fixed([]byte("x"), nil)); err != nil || string(got) != "x" {
				t.Errorf("Get = %q, %v", got, err)
			}
		})
	}
}

func TestNewWithOptions(t *testing.T) {
	tests := []struct {
		name       string
		capacity   int64
		opts       Options
		wantPS     int
		wantPages  int
		wantBlock  int64 // read-ahead block; 0: none
		wantMaxWin int64
	}{
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
			c, err := NewWithOptions(tt.capacity, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.PageSize() != tt.wantPS || c.Stats().MaxPages != tt.wantPages {
				t.Errorf("page size %d, pages %d; want %d, %d", c.PageSize(), c.Stats().MaxPages, tt.wantPS, tt.wantPages)
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
	if _, err := NewWithOptions(1<<20, Options{PageSize: -1}); err == nil {
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
			c, err := NewWithOptions(tt.capacity, Options{PageSize: tt.pageSize, ReadAheadBlock: 4 * int64(tt.pageSize)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wantPages := max(1, int(tt.capacity/int64(tt.pageSize)))
			if s := c.Stats(); s.MaxPages != wantPages || len(c.slots) != wantPages {
				t.Fatalf("MaxPages = %d, %d slots; want %d", s.MaxPages, len(c.slots), wantPages)
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
				s := c.Stats()
				if s.Bytes > int64(wantPages*tt.pageSize) || s.Pages > wantPages {
					t.Fatalf("Stats = %+v: over capacity", s)
				}
				if counted, held := accounting(c); counted != held {
					t.Fatalf("Stats.Bytes = %d but pages hold %d", counted, held)
				}
			}
			waitFor(t, "fetches to end", func() bool { return f.active.Load() == 0 })
			wantFull := min(wantPages, int((tt.size+int64(tt.pageSize)-1)/int64(tt.pageSize)))
			if s := c.Stats(); s.Pages != wantFull {
				t.Errorf("Pages = %d, want %d", s.Pages, wantFull)
			}
		})
	}
}

// TestPageZeroedWhenItLeaves checks, in the arena itself, that a page's bytes are
// zeroed when it leaves the cache, whichever way it leaves.
func TestPageZeroedWhenItLeaves(t *testing.T) {
	const ps = 64
	a := PageKey{Object: "a", Version: "v"}
	other := func(i int) PageKey { return PageKey{Object: "b", Version: "v", Index: int64(i)} }
	get := func(t *testing.T, c *PageCache, k PageKey, b byte, n int) {
		t.Helper()
		if _, err := c.Get(context.Background(), k, fixed(bytes.Repeat([]byte{b}, n), nil)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		leave func(t *testing.T, c *PageCache)
	}{
		{"evicted", func(t *testing.T, c *PageCache) {
			// Pages of one byte: the slot of a is reused, and all but its first
			// byte must be zero.
			for i := range 4 {
				get(t, c, other(i), 0x01, 1)
			}
		}},
		{"forgotten", func(t *testing.T, c *PageCache) { c.Forget("a") }},
		{"dropped as short", func(t *testing.T, c *PageCache) {
			// a's page has ps-1 bytes but an object of 10*ps needs ps.
			_, err := c.ReadAt(context.Background(), "a", "v", 10*ps, make([]byte, ps), 0, nil)
			if err == nil {
				t.Fatal("short page read without error")
			}
		}},
		{"closed", func(t *testing.T, c *PageCache) { c.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(4*ps, ps, time.Second)
			defer c.Close()
			mem := keepMapped(t, c)
			get(t, c, a, 0xA5, ps-1)
			i := c.slotOf(a)
			if i < 0 {
				t.Fatal("page not cached")
			}
			slotMem := mem[int(i)*ps : (int(i)+1)*ps]
			if allZero(slotMem) {
				t.Fatal("arena slot is zero while the page is cached")
			}
			tt.leave(t, c)
			if c.slotOf(a) >= 0 {
				t.Fatal("page still cached")
			}
			if bytes.IndexByte(slotMem, 0xA5) >= 0 || !allZero(slotMem[1:]) {
				t.Errorf("arena slot %d not zeroed: %x", i, slotMem)
			}
		})
	}
}

// TestPinnedPageNotEvicted holds a copy from a cached page in progress while other
// pages need its slot: they must take others, or not be stored at all.
func TestPinnedPageNotEvicted(t *testing.T) {
	const ps = 32
	tests := []struct {
		name      string
		pages     int64 // cache size in pages
		others    int   // other pages fetched during the copy
		forget    bool  // Forget the pinned page's object during the copy
		wantPages int   // pages cached during the copy
	}{
		{"one other slot", 2, 5, false, 2},
		{"no other slot", 1, 3, false, 1},
		{"forgotten while pinned", 2, 1, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.pages*ps, ps, time.Second)
			defer c.Close()
			mem := keepMapped(t, c)
			a := PageKey{Object: "a", Version: "v"}
			want := content(a, ps)
			if _, err := c.Get(context.Background(), a, fixed(want, nil)); err != nil {
				t.Fatal(err)
			}
			slotA := c.slotOf(a)
			pinned, resume := make(chan struct{}), make(chan struct{})
			c.testHookPinned = func(k PageKey) {
				if k == a {
					close(pinned)
					<-resume
				}
			}
			done := make(chan error)
			dst := make([]byte, ps)
			go func() {
				_, err := c.ReadAt(context.Background(), "a", "v", ps, dst, 0, nil)
				done <- err
			}()
			<-pinned
			if tt.forget {
				c.Forget("a")
			}
			for i := range tt.others {
				k := PageKey{Object: "b", Version: "v", Index: int64(i)}
				got, err := c.Get(context.Background(), k, fixed(content(k, ps), nil))
				if err != nil || !bytes.Equal(got, content(k, ps)) {
					t.Fatalf("Get(%v) = %q, %v", k, got, err)
				}
			}
			if s := c.Stats(); s.Pages != tt.wantPages {
				t.Errorf("Pages = %d during the copy, want %d", s.Pages, tt.wantPages)
			}
			if got := mem[int(slotA)*ps : (int(slotA)+1)*ps]; !bytes.Equal(got, want) {
				t.Fatalf("pinned page changed during the copy: %q", got)
			}
			if !tt.forget && c.slotOf(a) != slotA {
				t.Errorf("pinned page moved or left")
			}
			close(resume)
			if err := <-done; err != nil || !bytes.Equal(dst, want) {
				t.Fatalf("ReadAt = %q, %v; want %q", dst, err, want)
			}
			if tt.forget && !allZero(mem[int(slotA)*ps:(int(slotA)+1)*ps]) {
				t.Errorf("forgotten page not zeroed after its copy")
			}
			c.testHookPinned = nil
			// Unpinned, it is an ordinary page again: enough new pages evict it.
			for i := range tt.pages + 1 {
				k := PageKey{Object: "c", Version: "v", Index: int64(i)}
				if _, err := c.Get(context.Background(), k, fixed(content(k, ps), nil)); err != nil {
					t.Fatal(err)
				}
			}
			if c.slotOf(a) >= 0 {
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
			c, err := NewWithOptions(tt.pages*int64(tt.pageSize), Options{PageSize: tt.pageSize, FetchTimeout: 10 * time.Second,
				ReadAheadBlock: 2 * int64(tt.pageSize)})
			if err != nil {
				t.Fatal(err)
			}
			f := newRangeFake(tt.size, 0)
			pageFetch := func(i int64) FetchFunc {
				return func(ctx context.Context) ([]byte, error) {
					lo := i * int64(tt.pageSize)
					return f.fetch(ctx, lo, min(int64(tt.pageSize), tt.size-lo))
				}
			}
			var wg sync.WaitGroup
			for g := range 24 {
				wg.Go(func() {
					r := c.NewReader("o", "v", tt.size, f.fetch)
					defer r.Close()
					rng := rand.New(rand.NewPCG(uint64(g), 7))
					pos := int64(0)
					for j := range 150 {
						n := rng.IntN(3*tt.pageSize) + 1
						off := rng.Int64N(tt.size)
						if g%3 == 0 { // sequential readers
							off, pos = pos, (pos+int64(n))%tt.size
						}
						dst := make([]byte, n)
						var got int
						var err error
						if g%4 == 1 {
							got, err = c.ReadAt(context.Background(), "o", "v", tt.size, dst, off, pageFetch)
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
						if g == 5 && j%40 == 0 {
							c.Forget("o")
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
	c := New(8*ps, ps, time.Minute)
	key := PageKey{Object: "o", Version: "v"}
	if _, err := c.Get(context.Background(), key, fixed([]byte("cached"), nil)); err != nil {
		t.Fatal(err)
	}
	// A fetch in flight is cancelled by Close, which waits for it.
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), PageKey{Object: "slow"}, func(ctx context.Context) ([]byte, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		errc <- err
	}()
	<-started
	c.Close()
	if err := <-errc; err == nil {
		t.Error("fetch in flight at Close succeeded")
	}
	c.Close() // idempotent
	if _, err := c.Get(context.Background(), key, fixed([]byte("x"), nil)); err != ErrClosed {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := c.ReadAt(context.Background(), "o", "v", 10, make([]byte, 4), 0, nil); err != ErrClosed {
		t.Errorf("ReadAt after Close: %v, want ErrClosed", err)
	}
	r := c.NewReader("o", "v", 10, nil)
	if _, err := r.ReadAt(context.Background(), make([]byte, 4), 0); err != ErrClosed {
		t.Errorf("Reader.ReadAt after Close: %v, want ErrClosed", err)
	}
	if s := c.Stats(); s.Pages != 0 || s.Bytes != 0 {
		t.Errorf("Stats after Close = %+v", s)
	}
}

func ExamplePageCache_NewReader() {
	obj := bytes.Repeat([]byte("0123456789"), 100_000) // 1,000,000 bytes
	c, err := NewWithOptions(64<<20, Options{PageSize: 64 << 10, FetchTimeout: time.Minute})
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
