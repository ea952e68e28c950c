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
// PageCache.flights under each of its pages while it runs. Waiters block on done; got
// and err are written once before done is closed and only read after, so the close
// orders them and they need no lock.
//
// The fetch writes straight into arena pages: startLocked reserves a slot for each page
// (slots.go, reserveLocked), and only a page for which every slot is pinned gets a
// buffer on the Go heap. The flight holds its slots until its last reference is
// released (refs counts the runner and each waiting part), so waiters copy from them
// even once they are published in the cache and would otherwise be evictable; its
// slots count in PageCache.pinned meanwhile, so Close waits for them. The last release
// unpins the published slots, frees (zeroed) the others, and zeroes heap pages.
type flight struct {
	// Set when the flight is made, then only read.
	c        *PageCache
	src      *source
	first, n int64
	raBytes  int64           // > 0 for read-ahead: bytes counted in PageCache.raInflight until it retires
	ra       *readAheadPages // which of its pages were counted, while watched (observe.go)
	onDone   func()          // called when the fetch is done, before done is closed, without locks held
	// pages[i] is where page first+i is fetched to, as long as that page is: the data
	// of slot slots[i], or a heap buffer where slots[i] is -1.
	pages [][]byte
	slots []int32

	// published[i] says slot slots[i] went into the cache; written by store under
	// PageCache.mu, read by the last release under it.
	published []bool

	done chan struct{}
	got  int64        // bytes fetched; written before done is closed, read after
	err  error        // written before done is closed, read after
	refs atomic.Int32 // taken under PageCache.mu (so that the flight is still registered), dropped anywhere
}

// startLocked registers a flight for pages [first, first+n) of src, reserves the slots
// it fetches into, and starts its fetch; onDone, if not nil, is called when it is done.
// raBytes > 0 makes it a read-ahead fetch of that many bytes.
// c.mu must be held and c not closed. The flight holds one reference, its runner's:
// waiters add their own before c.mu is released.
//
// The fetch runs in its own goroutine, not in the goroutine of the read that
// missed first: that read may be interrupted (its ctx done) and must be able to
// return at once while the others keep waiting for the same fetch.
func (c *PageCache) startLocked(src *source, first, n, raBytes int64, onDone func()) *flight {
	fl := &flight{c: c, src: src, first: first, n: n, raBytes: raBytes, onDone: onDone, done: make(chan struct{}),
		ra: c.newReadAheadPages(raBytes, n), pages: make([][]byte, n), slots: make([]int32, n), published: make([]bool, n)}
	fl.refs.Store(1)
	ps := int64(c.pageSize)
	for i := range n {
		length := min(ps, src.size-(first+i)*ps)
		s := c.reserveLocked()
		fl.slots[i] = s
		if s < 0 { // every page is pinned: this one waits on the heap
			fl.pages[i] = make([]byte, length)
			continue
		}
		c.pinned++ // the flight's, until its last reference
		fl.pages[i] = c.slots[s].data[:length]
	}
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
	got, err := c.fetch(fl)
	c.store(fl, got, err)
	fl.got, fl.err = got, err
	// onDone (a Reader's read-ahead) runs before the waiters wake: the reader that
	// was waiting for this block finds the next one already on its way.
	if fl.onDone != nil {
		fl.onDone()
	}
	// The runner lets go before the waiters wake (store took the flight out of
	// flights, so nobody joins it any more): the last waiter to copy retires it
	// before its read returns.
	fl.release()
	close(fl.done)
}

// store publishes the good pages of a finished fetch in the cache and retires the
// flight, in one critical section: a read that misses the cache under c.mu is sure to
// find the flight instead, and vice versa. A page is good if the fetch succeeded and
// brought all of it. Before that, without the lock (a reserved slot is the flight's
// alone), it zeroes what the fetch did not overwrite: the rest of the page the slot
// held before, and everything of a failed fetch.
func (c *PageCache) store(fl *flight, got int64, err error) {
	ps := int64(c.pageSize)
	have := make([]int, fl.n)
	for i, page := range fl.pages {
		if err == nil {
			have[i] = int(min(max(got-int64(i)*ps, 0), int64(len(page))))
		}
		if s := fl.slots[i]; s >= 0 {
			sl := &c.slots[s]
			if sl.n > have[i] {
				clear(sl.data[have[i]:sl.n])
			}
			if err != nil {
				clear(page)
			}
			sl.n = have[i]
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raInflight -= fl.raBytes
	for i := range fl.n {
		delete(c.flights, fl.src.key(fl.first+i))
	}
	if err != nil || c.closed { // errors are never cached: the next read retries
		return
	}
	for i, s := range fl.slots {
		if s < 0 || have[i] < len(fl.pages[i]) {
			continue // on the heap, or short: the read that needs it reports the error
		}
		idx := fl.first + int64(i)
		c.publishLocked(s, fl.src.key(idx))
		c.slots[s].pins = 1 // the flight's
		fl.published[i] = true
		c.markReadAheadLocked(s, fl, idx)
	}
}

// fetch calls the source's RangeFunc for the flight's pages, with a context of its
// own, bounded by the fetch timeout and cancelled by Close, and checks what it returns.
func (c *PageCache) fetch(fl *flight) (got int64, err error) {
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
			got, err = 0, fmt.Errorf("cache: fetch of %s of %q panicked: %s", what, fl.src.object, detail)
		}
	}()

	if fl.src.fetch == nil {
		return 0, fmt.Errorf("cache: no fetch function for %s of %q", what, fl.src.object)
	}
	var want int64
	for _, p := range fl.pages {
		want += int64(len(p))
	}
	got, err = fl.src.fetch(ctx, fl.first*int64(c.pageSize), fl.pages)
	if err != nil {
		return 0, fmt.Errorf("cache: fetch of %s of %q: %w", what, fl.src.object, err)
	}
	// Name the pages, never their content (it is plaintext).
	if got < 0 || got > want {
		return 0, fmt.Errorf("cache: fetch of %s of %q reported %d bytes, of the %d asked",
			what, fl.src.object, got, want)
	}
	return got, nil
}

// page is page idx of the flight's result, as much of it as was fetched; call only
// after wait succeeded. The slot it is in stays the flight's until the caller
// releases its reference.
func (fl *flight) page(idx int64, pageSize int) []byte {
	i := idx - fl.first
	lo := i * int64(pageSize)
	if fl.got <= lo {
		return nil
	}
	p := fl.pages[i]
	return p[:min(int64(len(p)), fl.got-lo)]
}

// release drops one reference; the last one gives the flight's slots back (see
// flight) and zeroes its heap pages.
func (fl *flight) release() {
	if fl.refs.Add(-1) != 0 {
		return
	}
	c := fl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range fl.slots {
		switch {
		case s < 0:
			clear(fl.pages[i])
		case fl.published[i]:
			c.unpinLocked(s)
		default:
			c.pinned--
			c.freeLocked(s)
		}
	}
	if c.pinned == 0 && c.closed {
		c.unpinned.Broadcast()
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
