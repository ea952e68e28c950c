package cache

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
)

// call is one shared fetch of one page. Waiters block on done; val and err
// are written once before done is closed and only read after, so the close
// orders them and they need no lock.
type call struct {
	done chan struct{}
	val  []byte
	err  error

	// forgotten is set (under PageCache.mu) by Forget: the object changed while
	// this fetch was running, so its result may be stale and must not be cached.
	forgotten bool
}

// startLocked registers a flight for key and starts its fetch. c.mu must be held.
//
// The fetch runs in its own goroutine, not in the goroutine of the Get that
// missed first: that Get may be interrupted (its ctx done) and must be able to
// return at once while the others keep waiting for the same fetch.
func (c *PageCache) startLocked(key PageKey, makeFetch func() FetchFunc) *call {
	cl := &call{done: make(chan struct{})}
	c.flights[key] = cl
	c.fetches.Add(1)
	go c.run(key, cl, makeFetch)
	return cl
}

// run performs the fetch, stores a good result and wakes the waiters.
func (c *PageCache) run(key PageKey, cl *call, makeFetch func() FetchFunc) {
	val, err := c.fetch(key, makeFetch)

	// Store and retire the flight in one critical section so that a Get that
	// misses the LRU under mu is sure to find the flight instead, and vice versa.
	c.mu.Lock()
	if c.flights[key] == cl { // Forget may have retired us already
		delete(c.flights, key)
	}
	if err == nil && !cl.forgotten {
		c.storeLocked(key, val) // errors are never cached: the next Get retries
	}
	c.mu.Unlock()

	cl.val, cl.err = val, err
	close(cl.done)
}

// fetch calls the page's FetchFunc with a context of its own, bounded by the
// fetch timeout, and checks what it returns.
func (c *PageCache) fetch(key PageKey, makeFetch func() FetchFunc) (page []byte, err error) {
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if c.fetchTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.fetchTimeout)
	}
	defer cancel()

	// A panicking FetchFunc would otherwise kill the whole filesystem daemon
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
			page, err = nil, fmt.Errorf("cache: fetch of page %d of %q panicked: %s", key.Index, key.Object, detail)
		}
	}()

	f := makeFetch()
	if f == nil {
		return nil, fmt.Errorf("cache: no fetch function for page %d of %q", key.Index, key.Object)
	}
	page, err = f(ctx)
	if err != nil {
		return nil, fmt.Errorf("cache: fetch of page %d of %q: %w", key.Index, key.Object, err)
	}
	// The byte bound of the cache is pages x pageSize, so a bigger page would
	// break it. Name the page, never its content (it is plaintext).
	if len(page) > c.pageSize {
		return nil, fmt.Errorf("cache: fetch of page %d of %q returned %d bytes, more than the page size %d",
			key.Index, key.Object, len(page), c.pageSize)
	}
	// A short slice of a big buffer would pin the whole buffer while being
	// counted as len(page): copy it so memory really stays within the bound.
	if cap(page) > c.pageSize {
		page = bytes.Clone(page)
	}
	return page, nil
}

// wait blocks until the fetch is done or ctx is. A result that is already
// there wins over a ctx that is also done: there is no point in failing a
// read whose data is available.
func (cl *call) wait(ctx context.Context) ([]byte, error) {
	select {
	case <-cl.done:
		return cl.val, cl.err
	default:
	}
	select {
	case <-cl.done:
		return cl.val, cl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
