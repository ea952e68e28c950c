package cache

import (
	"context"
	"errors"
	"testing"
)

// A prefetched object is read from the cache by a Reader made later, without fetching
// again; a prefetch is refused, not queued, when read-ahead has its budget in flight.
func TestPrefetchIsReadByALaterReader(t *testing.T) {
	ps := int64(DefaultPageSize)
	c, err := New(64*ps, Options{ReadAheadBlock: 4 * ps})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	obj := newRangeFake(10*ps+123, 0)
	done := make(chan struct{}, 16)
	// Half the read-ahead budget (a quarter of 64 pages) is 8 pages: two runs of 4.
	started, err := c.Prefetch("o", "v1", int64(len(obj.ref)), 1<<40, obj.fetch, func() { done <- struct{}{} })
	if err != nil || started != 8*ps {
		t.Fatalf("Prefetch = %d, %v; want %d, nil", started, err, 8*ps)
	}
	for range 2 {
		<-done
	}
	// With those done, the rest fits.
	rest, err := c.Prefetch("o", "v1", int64(len(obj.ref)), 1<<40, obj.fetch, func() { done <- struct{}{} })
	if err != nil || rest != int64(len(obj.ref))-8*ps {
		t.Fatalf("second Prefetch = %d, %v; want %d", rest, err, int64(len(obj.ref))-8*ps)
	}
	<-done
	calls := obj.calls.Load()
	if again, _ := c.Prefetch("o", "v1", int64(len(obj.ref)), 1<<40, obj.fetch, nil); again != 0 {
		t.Errorf("a second prefetch of cached pages started %d bytes", again)
	}
	r := c.NewReader("o", "v1", int64(len(obj.ref)), obj.fetch)
	defer r.Close()
	got := make([]byte, len(obj.ref))
	n, err := r.ReadAt(context.Background(), got, 0)
	if err != nil || n != len(got) || string(got) != string(obj.ref) {
		t.Fatalf("ReadAt = %d, %v, same bytes %v", n, err, string(got) == string(obj.ref))
	}
	if obj.calls.Load() != calls {
		t.Errorf("the read fetched again: %d calls after the prefetch's %d", obj.calls.Load(), calls)
	}
	// Another version is other pages: nothing of v1 is served for v2.
	v2 := newRangeFake(ps, 0)
	r2 := c.NewReader("o", "v2", ps, v2.fetch)
	defer r2.Close()
	if _, err := r2.ReadAt(context.Background(), got[:ps], 0); err != nil || v2.calls.Load() != 1 {
		t.Errorf("reading v2: %v, %d fetches of v2 (want 1)", err, v2.calls.Load())
	}
}

func TestPrefetchRefusedOverBudget(t *testing.T) {
	ps := int64(DefaultPageSize)
	c, err := New(64*ps, Options{ReadAheadBlock: 4 * ps})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	obj := newRangeFake(64*ps, 0)
	obj.hold = make(chan struct{})
	defer close(obj.hold)
	// Half the budget (a quarter of 64 pages) is 8 pages.
	if n, err := c.Prefetch("a", "v", 64*ps, 8*ps, obj.fetch, nil); err != nil || n != 8*ps {
		t.Fatalf("first prefetch = %d, %v", n, err)
	}
	if n, err := c.Prefetch("b", "v", 64*ps, ps, obj.fetch, nil); !errors.Is(err, ErrPrefetchBusy) || n != 0 {
		t.Fatalf("prefetch over budget = %d, %v; want 0, ErrPrefetchBusy", n, err)
	}
	off, err := New(64*ps, Options{NoReadAhead: true})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.Prefetch("a", "v", ps, ps, obj.fetch, nil); !errors.Is(err, ErrPrefetchBusy) {
		t.Errorf("prefetch without read-ahead: %v, want ErrPrefetchBusy", err)
	}
}
