package cache

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rangeFake is an object served by ranges, as a RangeFunc, recording its calls.
type rangeFake struct {
	ref   []byte
	delay time.Duration

	calls, bytes      atomic.Int64
	active, maxActive atomic.Int64

	mu     sync.Mutex
	lens   []int64         // length asked by each call
	fail   error           // returned by every call while set
	hold   chan struct{}   // if set, every call waits for it to be closed (or its ctx to end)
	cut    int64           // bytes to drop from the end of every answer
	pad    int64           // bytes to add to the end of every answer
	failAt map[int64]error // by offset asked: error returned by that call
	cutAt  map[int64]int64 // by offset asked: bytes to drop from the end of that answer
}

func newRangeFake(size int64, delay time.Duration) *rangeFake {
	ref := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(size), byte(size >> 8), byte(size >> 16)}).Read(ref)
	return &rangeFake{ref: ref, delay: delay}
}

func (f *rangeFake) fetch(ctx context.Context, off int64, dst [][]byte) (int64, error) {
	return bytesFunc(f.fetchBytes)(ctx, off, dst)
}

// fetchBytes answers a range with a slice of its own, as a RangeFunc of bytes.
func (f *rangeFake) fetchBytes(ctx context.Context, off, length int64) ([]byte, error) {
	f.calls.Add(1)
	a := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		m := f.maxActive.Load()
		if a <= m || f.maxActive.CompareAndSwap(m, a) {
			break
		}
	}
	f.mu.Lock()
	f.lens = append(f.lens, length)
	fail, cut, pad, hold := f.fail, f.cut+f.cutAt[off], f.pad, f.hold
	if err := f.failAt[off]; err != nil {
		fail = err
	}
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	if off < 0 || length < 0 || off+length > int64(len(f.ref)) {
		return nil, errors.New("range outside the object")
	}
	// A copy: the cache zeroes what it is handed.
	b := append(bytes.Clone(f.ref[off:off+length-min(cut, length)]), make([]byte, pad)...)
	f.bytes.Add(int64(len(b)))
	return b, nil
}

func (f *rangeFake) lengths() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.lens...)
}

// waitGoroutines waits until no more goroutines run than at baseline.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

// waitFor polls cond until it holds, failing the test after a few seconds.
// Tests use it to know that every goroutine is parked on a flight before they
// release a blocked fetch.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustCache(t testing.TB, capacity int64, opts Options) *PageCache {
	t.Helper()
	c, err := New(capacity, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// contents returns how many pages the cache holds and their bytes, as it counts
// them; it reports an error if that count is not what the slots hold (read-ahead
// may store pages at any time, so both are taken at one instant).
func contents(t testing.TB, c *PageCache) (pages int, bytes int64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var held int64
	for _, i := range c.index {
		held += int64(c.slots[i].n)
	}
	if held != c.bytes {
		t.Errorf("the cache counts %d bytes but its pages hold %d", c.bytes, held)
	}
	return len(c.index), c.bytes
}

// peek reports whether a page is cached, without touching the LRU order.
func peek(c *PageCache, object, version string, idx int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.index[pageKey{object, version, idx}]
	return ok
}

// slotOf returns the arena slot holding a page, or -1.
func slotOf(c *PageCache, object, version string, idx int64) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.index[pageKey{object, version, idx}]; ok {
		return i
	}
	return -1
}

// waiting returns how many reads wait for the fetch of a page (its flight's
// references, less the runner's), or -1 if the page is not being fetched.
func waiting(c *PageCache, object, version string, idx int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	fl := c.flights[pageKey{object, version, idx}]
	if fl == nil {
		return -1
	}
	return int(fl.refs.Load()) - 1
}

// readAheadStarted reports whether any Reader of c has started a read-ahead fetch.
func readAheadStarted(c *PageCache) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raInflightMax > 0
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

// bytesFunc makes a RangeFunc of a function that answers a range with a slice of its
// own: its answer is copied into the buffers, then zeroed, as the cache would zero what
// it was handed. An answer longer than the buffers is reported as such (the cache must
// refuse it); on error, what the answer holds is copied in anyway, so that tests see the
// cache zero it.
func bytesFunc(fetch func(ctx context.Context, off, length int64) ([]byte, error)) RangeFunc {
	return func(ctx context.Context, off int64, dst [][]byte) (int64, error) {
		var want int64
		for _, d := range dst {
			want += int64(len(d))
		}
		b, err := fetch(ctx, off, want)
		defer clear(b)
		var n int64
		for _, d := range dst {
			n += int64(copy(d, b[n:]))
		}
		if err != nil {
			return 0, err
		}
		return int64(len(b)), nil
	}
}

// waitUnpinned waits until no page of c is pinned (flights hold their pages until their
// last reference goes, which may be just after the read they served returned).
func waitUnpinned(t *testing.T, c *PageCache) {
	t.Helper()
	for i := 0; ; i++ {
		c.mu.Lock()
		p := c.pinned
		c.mu.Unlock()
		if p == 0 {
			return
		}
		if i == 2000 {
			t.Fatalf("%d pages still pinned after 2 s", p)
		}
		time.Sleep(time.Millisecond)
	}
}
