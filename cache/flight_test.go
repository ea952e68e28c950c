package cache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestConcurrentReadsFetchOnce: Readers of one version that miss the same page at
// once share one fetch, and its error too.
func TestConcurrentReadsFetchOnce(t *testing.T) {
	const ps, size = 64, 4 * 64
	tests := []struct {
		name    string
		waiters int
		fail    bool
	}{
		{"2 waiters", 2, false},
		{"50 waiters", 50, false},
		{"50 waiters share an error", 50, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, 8*ps, Options{PageSize: ps, FetchTimeout: 10 * time.Second})
			f := newRangeFake(size, 0)
			want := f.ref[2*ps : 3*ps]
			if tt.fail {
				f.fail = errors.New("boom")
			}
			release := make(chan struct{})
			f.hold = release // hold the fetch until every read is waiting on it

			var wg sync.WaitGroup
			results := make([][]byte, tt.waiters)
			errs := make([]error, tt.waiters)
			for i := range tt.waiters {
				wg.Go(func() {
					dst := make([]byte, ps)
					n, err := c.NewReader("o", "v", size, f.fetch).ReadAt(context.Background(), dst, 2*ps)
					results[i], errs[i] = dst[:n], err
				})
			}
			waitFor(t, "all reads to wait", func() bool { return waiting(c, "o", "v", 2) == tt.waiters })
			close(release)
			wg.Wait()

			if n := f.calls.Load(); n != 1 {
				t.Fatalf("fetch called %d times, want 1", n)
			}
			for i := range tt.waiters {
				if tt.fail {
					if !errors.Is(errs[i], f.fail) || len(results[i]) != 0 {
						t.Errorf("waiter %d: %d bytes, err = %v, want boom", i, len(results[i]), errs[i])
					}
					continue
				}
				if errs[i] != nil || !bytes.Equal(results[i], want) {
					t.Errorf("waiter %d: %d bytes, %v, or wrong data", i, len(results[i]), errs[i])
				}
			}
			if pages, _ := contents(t, c); peek(c, "o", "v", 2) == tt.fail || pages != map[bool]int{false: 1, true: 0}[tt.fail] {
				t.Errorf("%d pages cached; want the page cached unless its fetch failed", pages)
			}
		})
	}
}

// TestCancelledWaiter: a read that gives up (its ctx done) returns at once, and the
// fetch it waited for, even one it started, goes on for the others and fills the cache.
func TestCancelledWaiter(t *testing.T) {
	const ps, size = 64, 64
	tests := []struct {
		name string
		// cancelledStarts: the read that gives up is the one whose miss started
		// the fetch (so the fetch must not be tied to its ctx).
		cancelledStarts bool
		deadline        bool // give up by deadline instead of cancel
		wantErr         error
	}{
		{"starter cancelled", true, false, context.Canceled},
		{"joiner cancelled", false, false, context.Canceled},
		{"starter deadline", true, true, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCache(t, 8*ps, Options{PageSize: ps, FetchTimeout: 10 * time.Second})
			f := newRangeFake(size, 0)
			release := make(chan struct{})
			f.hold = release // a fetch whose ctx ends returns its error: it would fail the read that stays

			var ctx context.Context
			var cancel context.CancelFunc
			if tt.deadline {
				ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
			} else {
				ctx, cancel = context.WithCancel(context.Background())
			}
			defer cancel()

			type result struct {
				b   []byte
				err error
			}
			read := func(ctx context.Context, out chan<- result) {
				dst := make([]byte, ps)
				n, err := c.NewReader("o", "v", size, f.fetch).ReadAt(ctx, dst, 0)
				out <- result{dst[:n], err}
			}
			gone, stays := make(chan result, 1), make(chan result, 1)
			waiters := func(n int) func() bool { return func() bool { return waiting(c, "o", "v", 0) == n } }
			switch {
			case tt.deadline:
				// The deadline may pass at any time: let the other read join the
				// fetch once the starter has given up, so that it can only be the
				// same fetch that answers it.
				go read(ctx, gone)
				waitFor(t, "the first read", waiters(1))
			case tt.cancelledStarts:
				go read(ctx, gone)
				waitFor(t, "the first read", waiters(1))
				go read(context.Background(), stays)
				waitFor(t, "both reads", waiters(2))
				cancel()
			default:
				go read(context.Background(), stays)
				waitFor(t, "the first read", waiters(1))
				go read(ctx, gone)
				waitFor(t, "both reads", waiters(2))
				cancel()
			}
			r := <-gone
			if !errors.Is(r.err, tt.wantErr) || len(r.b) != 0 {
				t.Fatalf("interrupted read = %d bytes, %v; want %v", len(r.b), r.err, tt.wantErr)
			}
			if tt.deadline {
				if waiting(c, "o", "v", 0) != 0 {
					t.Fatal("the fetch did not outlive the read that started it")
				}
				go read(context.Background(), stays)
				waitFor(t, "the second read", waiters(1))
			}
			select {
			case r := <-stays:
				t.Fatalf("other read returned early: %d bytes, %v", len(r.b), r.err)
			default:
			}

			close(release)
			r = <-stays
			if r.err != nil || !bytes.Equal(r.b, f.ref) {
				t.Fatalf("other read got %d bytes, %v, or wrong data", len(r.b), r.err)
			}
			// The shared fetch filled the cache: a new read is a hit.
			dst := make([]byte, ps)
			n, err := c.NewReader("o", "v", size, bytesFunc(func(context.Context, int64, int64) ([]byte, error) {
				t.Error("unexpected fetch after the shared one filled the cache")
				return nil, errors.New("unexpected")
			})).ReadAt(context.Background(), dst, 0)
			if err != nil || !bytes.Equal(dst[:n], f.ref) {
				t.Fatalf("read after fill = %d, %v, or wrong data", n, err)
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("fetch called %d times, want 1", n)
			}
			if pages, _ := contents(t, c); pages != 1 {
				t.Errorf("%d pages cached, want 1", pages)
			}
		})
	}
}

// TestCancelledFetchNotStarted: a read whose ctx is done starts no fetch, but is
// served from the cache, where no waiting is involved.
func TestCancelledFetchNotStarted(t *testing.T) {
	c := mustCache(t, 1024, Options{PageSize: 64})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := newRangeFake(10, 0)
	dst := make([]byte, 10)
	if _, err := c.NewReader("o", "v", 10, f.fetch).ReadAt(ctx, dst, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if f.calls.Load() != 0 {
		t.Errorf("a read whose ctx was already done started a fetch")
	}
	if _, err := c.NewReader("o", "v", 10, f.fetch).ReadAt(context.Background(), dst, 0); err != nil {
		t.Fatal(err)
	}
	clear(dst)
	if n, err := c.NewReader("o", "v", 10, nil).ReadAt(ctx, dst, 0); err != nil || !bytes.Equal(dst[:n], f.ref) {
		t.Errorf("hit with done ctx = %d, %v, or wrong data", n, err)
	}
}

type ctxKey struct{}

// TestFetchContextIsDetached: a fetch runs on a context of its own, bounded by the
// fetch timeout, that carries nothing of the read that started it.
func TestFetchContextIsDetached(t *testing.T) {
	const timeout = 5 * time.Second
	c := mustCache(t, 1024, Options{PageSize: 64, FetchTimeout: timeout})
	ctx := context.WithValue(context.Background(), ctxKey{}, "request")
	_, err := c.NewReader("o", "v", 1, bytesFunc(func(fctx context.Context, _, _ int64) ([]byte, error) {
		if fctx.Value(ctxKey{}) != nil {
			t.Error("fetch context carries the caller's values")
		}
		dl, ok := fctx.Deadline()
		if !ok || time.Until(dl) > timeout {
			t.Errorf("fetch context deadline = %v, %v; want within %v", dl, ok, timeout)
		}
		return []byte("x"), nil
	})).ReadAt(ctx, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
}

// TestHammer reads one object from many goroutines through a tiny cache, some
// through one shared Reader, some through a new Reader each time, for the race
// detector, and checks the byte accounting afterwards.
func TestHammer(t *testing.T) {
	const ps = 32
	c := mustCache(t, 5*ps, Options{PageSize: ps, FetchTimeout: time.Second, ReadAheadBlock: 2 * ps})
	f := newRangeFake(20*ps+7, 0)
	size := int64(len(f.ref))
	shared := c.NewReader("o", "v", size, f.fetch)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for j := range 200 {
				off := int64((g*131 + j*17) % len(f.ref))
				dst := make([]byte, (g*7+j)%(3*ps))
				r := shared
				if g%2 == 1 {
					r = c.NewReader("o", "v", size, f.fetch)
				}
				n, err := r.ReadAt(context.Background(), dst, off)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(dst[:n], f.ref[off:off+int64(n)]) {
					t.Errorf("ReadAt(%d, %d) mismatch", off, len(dst))
					return
				}
			}
		})
	}
	wg.Wait()
	if pages, b := contents(t, c); pages > 5 || b > 5*ps {
		t.Errorf("%d pages of %d bytes cached, more than 5 pages", pages, b)
	}
}
