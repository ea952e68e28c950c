package cache

import "errors"

// ErrPrefetchBusy says that a prefetch was not started: the cache reads ahead as much as
// its budget allows already, or does not read ahead at all. Try again later, or not.
var ErrPrefetchBusy = errors.New("cache: no read-ahead budget for a prefetch")

// Prefetch starts fetching bytes [0, min(length, size)) of version of object, whose size
// is size, into the cache, before anyone opens it: a Reader of the same object and
// version made later finds those pages cached, or joins their fetches. Pages cached or
// being fetched already are not fetched again. fetch must be pinned to version (a
// changed object must fail, not be cached under the old version). onDone, if not nil, is
// called as each of the fetches started ends, with no lock held.
//
// Prefetch starts fetches, front to back, only while the read-ahead in flight over all
// Readers and prefetches stays within half of its budget (an eighth of the cache): what
// readers are reading comes first. It returns how many bytes it started fetching (0 if
// all were cached or on their way; the rest, if it stopped early, is left to the reads),
// or ErrPrefetchBusy if it had something to fetch and started nothing.
func (c *PageCache) Prefetch(object, version string, size, length int64, fetch RangeFunc, onDone func()) (int64, error) {
	if c.raBlock == 0 {
		return 0, ErrPrefetchBusy
	}
	length = min(length, size)
	if length <= 0 {
		return 0, nil
	}
	ps := int64(c.pageSize)
	src := &source{object: object, version: version, size: size, fetch: fetch}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	runs, _ := c.missingRunsLocked(src, 0, (length+ps-1)/ps)
	var started int64
	for _, r := range runs {
		bytes := min(r.n*ps, src.size-r.first*ps)
		if c.raInflight+bytes > c.raBudget/2 {
			break
		}
		c.startLocked(src, r.first, r.n, bytes, onDone)
		started += bytes
	}
	c.raInflightMax = max(c.raInflightMax, c.raInflight)
	if started == 0 && len(runs) > 0 {
		return 0, ErrPrefetchBusy
	}
	return started, nil
}
