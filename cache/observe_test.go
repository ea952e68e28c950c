package cache

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// counts is an Observer that counts.
type counts struct {
	hits, misses, evictions, raUsed, raWasted atomic.Int64
}

func (o *counts) CachePageHit()                  { o.hits.Add(1) }
func (o *counts) CachePageMiss()                 { o.misses.Add(1) }
func (o *counts) CachePageEvicted()              { o.evictions.Add(1) }
func (o *counts) CacheReadAheadUsed(bytes int)   { o.raUsed.Add(int64(bytes)) }
func (o *counts) CacheReadAheadWasted(bytes int) { o.raWasted.Add(int64(bytes)) }

func (o *counts) want(t *testing.T, what string, hits, misses, evictions int64) {
	t.Helper()
	if h, m, e := o.hits.Load(), o.misses.Load(), o.evictions.Load(); h != hits || m != misses || e != evictions {
		t.Errorf("%s: %d hits, %d misses, %d evictions; want %d, %d, %d", what, h, m, e, hits, misses, evictions)
	}
}

// Hits, misses and evictions are counted per page read; Held follows what is cached.
func TestObserverCountsPages(t *testing.T) {
	const ps = 4 << 10
	obs := &counts{}
	c := mustCache(t, 4*ps, Options{PageSize: ps, NoReadAhead: true, Observer: obs})
	f := newRangeFake(8*ps, 0)
	r := c.NewReader("o", "v1", 8*ps, f.fetch)
	defer r.Close()
	read := func(off, n int64) {
		t.Helper()
		dst := make([]byte, n)
		if got, err := r.ReadAt(context.Background(), dst, off); err != nil || int64(got) != n || !bytes.Equal(dst, f.ref[off:off+n]) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v, or wrong data", off, n, got, err)
		}
	}
	if c.Capacity() != 4*ps || c.Held() != 0 {
		t.Errorf("Capacity %d, Held %d; want %d, 0", c.Capacity(), c.Held(), 4*ps)
	}
	read(0, 100)
	obs.want(t, "first read", 0, 1, 0)
	read(10, 100)
	obs.want(t, "same page again", 1, 1, 0)
	read(0, 4*ps) // page 0 cached, pages 1-3 in one fetch
	obs.want(t, "four pages", 2, 4, 0)
	if c.Held() != 4*ps {
		t.Errorf("Held = %d, want %d", c.Held(), 4*ps)
	}
	read(4*ps, 2*ps) // two more pages evict the two least recently used
	obs.want(t, "past the capacity", 2, 6, 2)
	if c.Held() != 4*ps {
		t.Errorf("Held = %d after evictions, want %d", c.Held(), 4*ps)
	}
	if obs.raUsed.Load() != 0 || obs.raWasted.Load() != 0 {
		t.Errorf("read-ahead counted without read-ahead: %d used, %d wasted", obs.raUsed.Load(), obs.raWasted.Load())
	}
}

// Every page read ahead is counted once: used when read, wasted when it leaves unread
// (here at Close). Each page is fetched once, so what was fetched past what was read
// is exactly what was wasted.
func TestObserverCountsReadAhead(t *testing.T) {
	const (
		size = 16 << 20
		ps   = 64 << 10
		read = 8 << 20
	)
	obs := &counts{}
	c, err := New(64<<20, Options{PageSize: ps, ReadAheadBlock: 1 << 20, FetchTimeout: time.Minute, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := newRangeFake(size, time.Millisecond)
	r := c.NewReader("o", "v1", size, f.fetch)
	for off := int64(0); off < read; off += 128 << 10 {
		dst := make([]byte, 128<<10)
		if n, err := r.ReadAt(context.Background(), dst, off); err != nil || n != len(dst) || !bytes.Equal(dst, f.ref[off:off+int64(n)]) {
			t.Fatalf("ReadAt(%d) = %d, %v, or wrong data", off, n, err)
		}
	}
	r.Close()
	waitFor(t, "fetches to end", func() bool { return f.active.Load() == 0 })
	waitFor(t, "read-ahead to retire", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.raInflight == 0
	})
	used := obs.raUsed.Load()
	if used <= 0 || used > read {
		t.Errorf("%d read-ahead bytes used of %d read", used, read)
	}
	if w := obs.raWasted.Load(); w != 0 {
		t.Errorf("%d bytes wasted before anything left the cache", w)
	}
	fetched := f.bytes.Load()
	if fetched <= read {
		t.Fatalf("fetched %d bytes for %d read: no read-ahead past the reader", fetched, read)
	}
	c.Close()
	if w := obs.raWasted.Load(); w != fetched-read {
		t.Errorf("%d bytes wasted at Close, want %d (fetched %d, read %d)", w, fetched-read, fetched, read)
	}
	if u := obs.raUsed.Load(); u != used {
		t.Errorf("Close counted %d more bytes used", u-used)
	}
}
