package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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
	r := c.NewReader(object, "v", int64(n), bytesFunc(func(_ context.Context, _, length int64) ([]byte, error) {
		return bytes.Repeat([]byte{b}, int(length)), nil
	}))
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
			r := c.NewReader("a", "v", 10*ps, bytesFunc(func(context.Context, int64, int64) ([]byte, error) {
				return nil, errors.New("unexpected fetch")
			}))
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
