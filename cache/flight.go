package cache

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
)

// source is what a Reader reads: one version of one object, its size, and how to
// fetch a range of it.
type source struct {
	object, version string
	size            int64
	fetch           RangeFunc
}

func (s *source) key(idx int64) pageKey {
	return pageKey{object: s.object, version: s.version, index: idx}
}

// flight is one shared fetch of a run of pages [first, first+n). It is registered in
// PageCache.flights under each of its pages while it runs. Waiters block on done; buf
// and err are written once before done is closed and only read after, so the close
// orders them and they need no lock.
//
// Waiters copy from buf (not from the arena, where the pages may already have been
// evicted). refs counts the runner and each waiting part; the last release zeroes buf,
// so the fetched plaintext does not linger on the Go heap.
type flight struct {
	// Set when the flight is made, then only read.
	src      *source
	first, n int64
	raBytes  int64           // > 0 for read-ahead: bytes counted in PageCache.raInflight until it retires
	ra       *readAheadPages // which of its pages were counted, while watched (observe.go)
	onDone   func()          // called when the fetch is done, before done is closed, without locks held

	done chan struct{}
	buf  []byte       // written before done is closed, read after
	err  error        // written before done is closed, read after
	refs atomic.Int32 // taken under PageCache.mu (so that the flight is still registered), dropped anywhere
}

// startLocked registers a flight for pages [first, first+n) of src and starts its fetch;
// onDone, if not nil, is called when it is done. raBytes > 0 makes it a read-ahead
// fetch of that many bytes.
// c.mu must be held and c not closed. The flight holds one reference, its runner's:
// waiters add their own before c.mu is released.
//
// The fetch runs in its own goroutine, not in the goroutine of the read that
// missed first: that read may be interrupted (its ctx done) and must be able to
// return at once while the others keep waiting for the same fetch.
func (c *PageCache) startLocked(src *source, first, n, raBytes int64, onDone func()) *flight {
	fl := &flight{src: src, first: first, n: n, raBytes: raBytes, onDone: onDone, done: make(chan struct{}),
		ra: c.newReadAheadPages(raBytes, n)}
	fl.refs.Store(1)
	c.raInflight += raBytes
	for i := range n {
		c.flights[src.key(first+i)] = fl
	}
	c.wg.Add(1)
	go c.run(fl)
	return fl
}

// run performs the fetch, stores the good pages and wakes the waiters.
func (c *PageCache) run(fl *flight) {
	defer c.wg.Done()
	buf, err := c.fetch(fl)
	c.store(fl, buf, err)
	fl.buf, fl.err = buf, err
	// onDone (a Reader's read-ahead) runs before the waiters wake: the reader that
	// was waiting for this block finds the next one already on its way.
	if fl.onDone != nil {
		fl.onDone()
	}
	close(fl.done)
	fl.release()
}

// reserved is a slot taken for page idx of a flight.
type reserved struct {
	slot int32
	idx  int64
	page []byte
}

// store copies the good pages of a finished fetch into the arena and retires the
// flight. Slots are taken under c.mu, filled without it (a block is megabytes: other
// readers must not wait for its copy), then published, and the flight retired, in
// one critical section: a read that misses the cache under c.mu is sure to find the
// flight instead, and vice versa.
func (c *PageCache) store(fl *flight, buf []byte, err error) {
	ps := int64(c.pageSize)
	var res []reserved
	c.mu.Lock()
	if err == nil && !c.closed { // errors are never cached: the next read retries
		for i := range fl.n {
			idx := fl.first + i
			page := fl.pageOf(buf, idx, c.pageSize)
			if int64(len(page)) < min(ps, fl.src.size-idx*ps) {
				continue // short: the read that needs it reports the error
			}
			slot := c.reserveLocked()
			if slot < 0 {
				break // every page is pinned: the waiters have the bytes anyway
			}
			res = append(res, reserved{slot, idx, page})
		}
	}
	if len(res) > 0 {
		c.mu.Unlock()
		for _, r := range res {
			c.fill(r.slot, r.page)
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	c.raInflight -= fl.raBytes
	for i := range fl.n {
		delete(c.flights, fl.src.key(fl.first+i))
	}
	for _, r := range res {
		if c.closed { // while filling
			c.freeLocked(r.slot)
			continue
		}
		c.publishLocked(r.slot, fl.src.key(r.idx))
		c.markReadAheadLocked(r.slot, fl, r.idx)
	}
}

// fetch calls the source's RangeFunc for the flight's pages, with a context of its
// own, bounded by the fetch timeout and cancelled by Close, and checks what it returns.
func (c *PageCache) fetch(fl *flight) (buf []byte, err error) {
	ctx, cancel := c.base, context.CancelFunc(func() {})
	if c.fetchTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.fetchTimeout)
	}
	defer cancel()

	what := fmt.Sprintf("page %d", fl.first)
	if fl.n > 1 {
		what = fmt.Sprintf("pages %d-%d", fl.first, fl.first+fl.n-1)
	}
	// A panicking fetcher would otherwise kill the whole filesystem daemon
	// (it runs in a goroutine nobody can recover in) or, if recovered
	// elsewhere, leave every waiter blocked forever. Turn it into an error.
	// The panic value is reported only if the runtime made it (index out of
	// range and the like): an arbitrary value could carry page content.
	defer func() {
		if r := recover(); r != nil {
			detail := fmt.Sprintf("%T", r)
			if re, ok := r.(runtime.Error); ok {
				detail = re.Error()
			}
			buf, err = nil, fmt.Errorf("cache: fetch of %s of %q panicked: %s", what, fl.src.object, detail)
		}
	}()

	if fl.src.fetch == nil {
		return nil, fmt.Errorf("cache: no fetch function for %s of %q", what, fl.src.object)
	}
	ps := int64(c.pageSize)
	off := fl.first * ps
	want := min(fl.n*ps, fl.src.size-off)
	buf, err = fl.src.fetch(ctx, off, want)
	if err != nil {
		clear(buf) // handed over, and of no use
		return nil, fmt.Errorf("cache: fetch of %s of %q: %w", what, fl.src.object, err)
	}
	// The byte bound of the cache is pages x pageSize, so a bigger page would
	// break it. Name the page, never its content (it is plaintext).
	if int64(len(buf)) > want {
		clear(buf)
		return nil, fmt.Errorf("cache: fetch of %s of %q returned %d bytes, more than the %d asked",
			what, fl.src.object, len(buf), want)
	}
	return buf, nil
}

// pageOf is page idx of the flight's bytes buf (shorter or empty if buf is).
func (fl *flight) pageOf(buf []byte, idx int64, pageSize int) []byte {
	lo := (idx - fl.first) * int64(pageSize)
	if lo >= int64(len(buf)) {
		return nil
	}
	return buf[lo:min(lo+int64(pageSize), int64(len(buf)))]
}

// page is page idx of the flight's result; call only after wait succeeded.
func (fl *flight) page(idx int64, pageSize int) []byte { return fl.pageOf(fl.buf, idx, pageSize) }

// release drops one reference; the last one zeroes the fetched bytes.
func (fl *flight) release() {
	if fl.refs.Add(-1) == 0 {
		clear(fl.buf)
	}
}

// wait blocks until the fetch is done or ctx is. A result that is already
// there wins over a ctx that is also done: there is no point in failing a
// read whose data is available.
func (fl *flight) wait(ctx context.Context) error {
	select {
	case <-fl.done:
		return fl.err
	default:
	}
	select {
	case <-fl.done:
		return fl.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
