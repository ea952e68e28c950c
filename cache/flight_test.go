package cache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentGetsFetchOnce(t *testing.T) {
	const ps = 64
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
			c := New(8*ps, ps, 10*time.Second)
			key := PageKey{Object: "o", Version: "v", Index: 2}
			want := content(key, ps)
			errBoom := errors.New("boom")
			release := make(chan struct{})
			var calls atomic.Int32
			fetch := func(context.Context) ([]byte, error) {
				calls.Add(1)
				<-release // hold the fetch until every Get is waiting on it
				if tt.fail {
					return nil, errBoom
				}
				return bytes.Clone(want), nil
			}

			var wg sync.WaitGroup
			results := make([][]byte, tt.waiters)
			errs := make([]error, tt.waiters)
			for i := range tt.waiters {
				wg.Go(func() { results[i], errs[i] = c.Get(context.Background(), key, fetch) })
			}
			// Every Get counts its miss before it parks on the flight.
			waitFor(t, "all Gets to wait", func() bool { return c.Stats().Misses == int64(tt.waiters) })
			close(release)
			wg.Wait()

			if n := calls.Load(); n != 1 {
				t.Fatalf("fetch called %d times, want 1", n)
			}
			for i := range tt.waiters {
				if tt.fail {
					if !errors.Is(errs[i], errBoom) {
						t.Errorf("waiter %d: err = %v, want boom", i, errs[i])
					}
					continue
				}
				if errs[i] != nil || !bytes.Equal(results[i], want) {
					t.Errorf("waiter %d: got %q, %v", i, results[i], errs[i])
				}
			}
			s := c.Stats()
			if s.Fetches != 1 || s.Hits != 0 {
				t.Errorf("Stats = %+v, want 1 fetch and no hits", s)
			}
			if wantPages := map[bool]int{false: 1, true: 0}[tt.fail]; s.Pages != wantPages {
				t.Errorf("Pages = %d, want %d", s.Pages, wantPages)
			}
		})
	}
}

func TestCancelledWaiter(t *testing.T) {
	const ps = 64
	tests := []struct {
		name string
		// cancelledStarts: the Get that gives up is the one whose miss started
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
			c := New(8*ps, ps, 10*time.Second)
			key := PageKey{Object: "o", Version: "v", Index: 0}
			want := content(key, ps)
			release := make(chan struct{})
			var calls atomic.Int32
			fetch := func(ctx context.Context) ([]byte, error) {
				calls.Add(1)
				select {
				case <-release:
					return bytes.Clone(want), nil
				case <-ctx.Done():
					return nil, ctx.Err() // would mean the fetch was cancelled with a caller
				}
			}

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
			gone, stays := make(chan result, 1), make(chan result, 1)
			startGone := func() {
				go func() { b, err := c.Get(ctx, key, fetch); gone <- result{b, err} }()
			}
			startStays := func() {
				go func() { b, err := c.Get(context.Background(), key, fetch); stays <- result{b, err} }()
			}
			if tt.cancelledStarts {
				startGone()
				waitFor(t, "first miss", func() bool { return c.Stats().Misses == 1 })
				startStays()
			} else {
				startStays()
				waitFor(t, "first miss", func() bool { return c.Stats().Misses == 1 })
				startGone()
			}
			waitFor(t, "both waiting", func() bool { return c.Stats().Misses == 2 })

			if !tt.deadline {
				cancel()
			}
			r := <-gone
			if !errors.Is(r.err, tt.wantErr) || r.b != nil {
				t.Fatalf("interrupted Get = %q, %v; want %v", r.b, r.err, tt.wantErr)
			}
			select {
			case r := <-stays:
				t.Fatalf("other waiter returned early: %q, %v", r.b, r.err)
			default:
			}

			close(release)
			r = <-stays
			if r.err != nil || !bytes.Equal(r.b, want) {
				t.Fatalf("other waiter got %q, %v", r.b, r.err)
			}
			// The shared fetch filled the cache: a new Get is a hit.
			got, err := c.Get(context.Background(), key, func(context.Context) ([]byte, error) {
				t.Error("unexpected fetch after the shared one filled the cache")
				return nil, errors.New("unexpected")
			})
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Get after fill = %q, %v", got, err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("fetch called %d times, want 1", n)
			}
			if s := c.Stats(); s.Hits != 1 || s.Pages != 1 {
				t.Errorf("Stats = %+v, want 1 hit and 1 page", s)
			}
		})
	}
}

func TestCancelledFetchNotStarted(t *testing.T) {
	c := New(1024, 64, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	_, err := c.Get(ctx, PageKey{Object: "o"}, fixed([]byte("x"), &calls))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if calls != 0 || c.Stats().Fetches != 0 {
		t.Errorf("a Get whose ctx was already done started a fetch")
	}
	// A hit is served even with a done ctx: no waiting is involved.
	if _, err := c.Get(context.Background(), PageKey{Object: "o"}, fixed([]byte("x"), nil)); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Get(ctx, PageKey{Object: "o"}, nil); err != nil || string(b) != "x" {
		t.Errorf("hit with done ctx = %q, %v", b, err)
	}
}

type ctxKey struct{}

func TestFetchContextIsDetached(t *testing.T) {
	const timeout = 5 * time.Second
	c := New(1024, 64, timeout)
	ctx := context.WithValue(context.Background(), ctxKey{}, "request")
	_, err := c.Get(ctx, PageKey{Object: "o"}, func(fctx context.Context) ([]byte, error) {
		if fctx.Value(ctxKey{}) != nil {
			t.Error("fetch context carries the caller's values")
		}
		dl, ok := fctx.Deadline()
		if !ok || time.Until(dl) > timeout {
			t.Errorf("fetch context deadline = %v, %v; want within %v", dl, ok, timeout)
		}
		return []byte("x"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHammer mixes Gets, ReadAts and Forgets on a tiny cache for the race
// detector, and checks the byte accounting afterwards.
func TestHammer(t *testing.T) {
	const ps = 32
	c := New(5*ps, ps, time.Second)
	ref := make([]byte, 20*ps+7)
	for i := range ref {
		ref[i] = byte(i * 7)
	}
	pageFetch := func(i int64) FetchFunc {
		return func(context.Context) ([]byte, error) {
			return bytes.Clone(ref[i*ps : min(int64(len(ref)), (i+1)*ps)]), nil
		}
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for j := range 200 {
				off := int64((g*131 + j*17) % len(ref))
				dst := make([]byte, (g*7+j)%(3*ps))
				n, err := c.ReadAt(context.Background(), "o", "v", int64(len(ref)), dst, off, pageFetch)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(dst[:n], ref[off:off+int64(n)]) {
					t.Errorf("ReadAt(%d, %d) mismatch", off, len(dst))
					return
				}
				if j%50 == 0 {
					c.Forget("o")
				}
			}
		})
	}
	wg.Wait()
	s := c.Stats()
	if s.Bytes != sumBytes(c) || s.Pages > 5 || s.Bytes > 5*ps {
		t.Errorf("Stats = %+v, pages hold %d bytes", s, sumBytes(c))
	}
}
