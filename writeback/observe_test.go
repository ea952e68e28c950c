package writeback_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/internal/memstore"
	"github.com/ssecfs/ssecfs/writeback"
)

// These tests stand alone (no helpers of the other test files): they watch the engine
// from outside, through Stats and Config.Observer.

// observedBase reads a version of an object of a memstore: the Base of a file.
type observedBase struct {
	s         *memstore.Store
	key, etag string
	size      int64
}

func (b observedBase) ReadAt(ctx context.Context, dst []byte, off int64) (int, error) {
	n := min(int64(len(dst)), b.size-off)
	if n <= 0 {
		return 0, nil
	}
	got, err := b.s.ReadRange(ctx, b.key, b.etag, off, n)
	return copy(dst, got), err
}

func (observedBase) Close() {}

type conflictCounts struct {
	mu          sync.Mutex
	beside, not int
}

func (c *conflictCounts) WritebackConflict(savedBeside bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if savedBeside {
		c.beside++
	} else {
		c.not++
	}
}

func observedEngine(t *testing.T, s *memstore.Store, obs writeback.Observer, writeBuffer int64) *writeback.Engine {
	t.Helper()
	return writeback.New(s, func(key, etag string, size int64) writeback.Base {
		return observedBase{s, key, etag, size}
	}, writeback.Config{
		PartSize:    5 << 20,
		WriteBuffer: writeBuffer,
		Slots:       make(chan struct{}, 3),
		TempDir:     t.TempDir(),
		Observer:    obs,
	})
}

func wantEngineStats(t *testing.T, what string, got, want writeback.Stats) {
	t.Helper()
	if got != want {
		t.Errorf("%s: Stats = %+v, want %+v", what, got, want)
	}
}

// Stats tells the memory of unsaved pages, what was sealed in the spill file, and the
// upload slots taken.
func TestEngineStats(t *testing.T) {
	const page = writeback.WritePage
	s := memstore.New()
	e := observedEngine(t, s, nil, 8*page)
	bg := context.Background()
	wantEngineStats(t, "idle", e.Stats(), writeback.Stats{UploadSlots: 3, BufferLimit: 8 * page})

	// A file opened read-write keeps its pages (no streaming): 2.5 pages written take 3.
	a := e.Open("a", "", 0, func() map[string]string { return nil })
	a.KeepForReads()
	if err := a.Write(bg, bytes.Repeat([]byte("a"), 5*page/2), 0); err != nil {
		t.Fatal(err)
	}
	wantEngineStats(t, "3 pages", e.Stats(), writeback.Stats{UploadSlots: 3, BufferInUse: 3 * page, BufferLimit: 8 * page})

	// Past the budget, pages of a are sealed into the spill file to make room for b's.
	if err := a.Write(bg, bytes.Repeat([]byte("a"), 5*page), 5*page/2); err != nil {
		t.Fatal(err)
	}
	b := e.Open("b", "", 0, func() map[string]string { return nil })
	b.KeepForReads()
	if err := b.Write(bg, bytes.Repeat([]byte("b"), 3*page), 0); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.SpillBytes == 0 || st.SpillBytes%page != 0 || st.BufferInUse > 8*page || st.BufferInUse+st.SpillBytes != 11*page {
		t.Errorf("after spilling: %+v; want 11 pages between memory and the spill file", st)
	}

	// Saving a sends its parts, each in an upload slot.
	release := make(chan struct{})
	s.Before = func(op, key string) error {
		if op == memstore.OpPutPart {
			<-release
		}
		return nil
	}
	saved := make(chan error, 1)
	go func() {
		_, err := a.Save(bg)
		saved <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for e.Stats().UploadsInFlight == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no upload slot taken by a save of 7.5 pages")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	a.Drop()
	b.Drop()
	wantEngineStats(t, "all dropped", e.Stats(), writeback.Stats{UploadSlots: 3, BufferLimit: 8 * page})
}

// A save that meets another writer's version tells the observer whether it was saved
// beside.
func TestObserverCountsConflicts(t *testing.T) {
	s := memstore.New()
	obs := &conflictCounts{}
	e := observedEngine(t, s, obs, 16*writeback.WritePage)
	bg := context.Background()
	f := e.Open("doc", "", 0, func() map[string]string { return nil })
	if err := f.Write(bg, []byte("ours"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(bg, "doc", []byte("theirs"), nil, bucket.Condition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Save(bg); err == nil {
		t.Fatal("save over another writer's new file succeeded")
	}
	f.Drop()

	// Now the conflict copy cannot be made either.
	g := e.Open("doc2", "", 0, func() map[string]string { return nil })
	if err := g.Write(bg, []byte("ours"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(bg, "doc2", []byte("theirs"), nil, bucket.Condition{}); err != nil {
		t.Fatal(err)
	}
	s.Before = func(op, key string) error {
		if op == memstore.OpPut && key != "doc2" {
			return context.DeadlineExceeded
		}
		return nil
	}
	if _, err := g.Save(bg); err == nil {
		t.Fatal("save succeeded")
	}
	g.Drop()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.beside != 1 || obs.not != 1 {
		t.Errorf("conflicts: %d saved beside, %d not saved; want 1 and 1", obs.beside, obs.not)
	}
}
