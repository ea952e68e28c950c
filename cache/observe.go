package cache

import "sync/atomic"

// What the cache does, told to an Observer (Options.Observer) for metrics, and what it
// holds, asked with Held and Capacity. A nil Observer costs a nil check per page.
//
// Pages are counted as reads reach them (plan.go, copyPart and copyFlight): a hit is a
// page copied from the arena, a miss a page the read waited for a fetch for, whether it
// started that fetch or joined one on its way (a read-ahead not yet arrived is a miss).
// An eviction is a cached page reused for another (slots.go, reserveLocked); pages
// zeroed for other reasons (short, Close) are not evictions.
//
// Read-ahead: each page a read-ahead fetch brought is counted once, as used when a read
// first copies it (from the arena or from the fetch), or as wasted when it leaves the
// cache before any read did (evicted, dropped, or zeroed by Close). Pages a read-ahead
// fetched but could not store (the fetch failed, or every page was pinned) and that no
// read copied count as neither.

// Observer is told of the cache's hits, misses, evictions and read-ahead. Its methods
// are called once per page, some with the cache's lock held: they must be quick (an
// atomic add) and must not call into the cache.
type Observer interface {
	// CachePageHit: a read copied a page from the cache.
	CachePageHit()
	// CachePageMiss: a read waited for a page to be fetched.
	CachePageMiss()
	// CachePageEvicted: a page left the cache to make room for another.
	CachePageEvicted()
	// CacheReadAheadUsed: a page fetched ahead, of bytes bytes, was read.
	CacheReadAheadUsed(bytes int)
	// CacheReadAheadWasted: a page fetched ahead, of bytes bytes, left the cache unread.
	CacheReadAheadWasted(bytes int)
}

// Held is how many bytes of plaintext pages the cache holds now.
func (c *PageCache) Held() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Capacity is the size of the arena: the most the cache holds.
func (c *PageCache) Capacity() int64 { return int64(c.maxPages) * int64(c.pageSize) }

// readAheadPages marks which pages of one read-ahead fetch have been counted (read, or
// gone unread), so each is counted once. The fetch and the slots its pages went to
// share it; it is not guarded by a lock.
type readAheadPages struct {
	counted []atomic.Bool
}

// newReadAheadPages is the marks of a fetch of n pages, nil unless it reads ahead and
// someone watches.
func (c *PageCache) newReadAheadPages(raBytes, n int64) *readAheadPages {
	if c.obs == nil || raBytes <= 0 {
		return nil
	}
	return &readAheadPages{counted: make([]atomic.Bool, n)}
}

// readAheadRead counts page i of a read-ahead fetch as used, the first time.
func (c *PageCache) readAheadRead(ra *readAheadPages, i int64, bytes int) {
	if ra != nil && !ra.counted[i].Swap(true) {
		c.obs.CacheReadAheadUsed(bytes)
	}
}

// markReadAheadLocked notes that slot i holds page idx of fl.
func (c *PageCache) markReadAheadLocked(i int32, fl *flight, idx int64) {
	if fl.ra != nil {
		c.slots[i].ra, c.slots[i].raPage = fl.ra, int32(idx-fl.first)
	}
}

// hitLocked counts a read of cached slot s.
func (c *PageCache) hitLocked(s *slot) {
	if c.obs == nil {
		return
	}
	c.obs.CachePageHit()
	c.readAheadRead(s.ra, int64(s.raPage), s.n)
}

// missed counts a read that waits for a fetch.
func (c *PageCache) missed() {
	if c.obs != nil {
		c.obs.CachePageMiss()
	}
}

// retireLocked counts slot s leaving the cache: an eviction if evicted, and a page
// fetched ahead that nobody read as wasted.
func (c *PageCache) retireLocked(s *slot, evicted bool) {
	if c.obs == nil {
		return
	}
	if evicted {
		c.obs.CachePageEvicted()
	}
	if s.ra != nil && !s.ra.counted[s.raPage].Swap(true) {
		c.obs.CacheReadAheadWasted(s.n)
	}
	s.ra = nil
}
