package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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

// TestCloseWaitsForCopies: Close waits for a copy from a cached page to end before it
// zeroes the page, and the copy gets the page's bytes.
func TestCloseWaitsForCopies(t *testing.T) {
	const ps = 32
	c, err := New(4*ps, Options{PageSize: ps, NoReadAhead: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mem := keepMapped(t, c)
	f := newRangeFake(ps, 0)
	r := c.NewReader("a", "v", ps, f.fetch)
	if _, err := r.ReadAt(context.Background(), make([]byte, ps), 0); err != nil {
		t.Fatal(err)
	}
	pinned, resume := make(chan struct{}), make(chan struct{})
	c.testHookPinned = func(pageKey) {
		close(pinned)
		<-resume
	}
	done := make(chan error, 1)
	dst := make([]byte, ps)
	go func() {
		_, err := r.ReadAt(context.Background(), dst, 0)
		done <- err
	}()
	<-pinned
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a copy was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	if allZero(mem) {
		t.Fatal("page zeroed while a copy was in progress")
	}
	close(resume)
	<-closed
	if err := <-done; err != nil || !bytes.Equal(dst, f.ref) {
		t.Fatalf("ReadAt = %v, or wrong data", err)
	}
	if !allZero(mem) {
		t.Error("page not zeroed by Close")
	}
}
