// Package cache holds decrypted (plaintext) pages of S3 objects in a bounded,
// in-memory LRU and makes concurrent misses for one page share a single fetch.
//
// Plaintext lives only in memory: this package never writes to disk, not even
// to temporary files, because the whole point of SSE-C is that readable bytes
// exist nowhere but in the process that holds the key.
package cache

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// PageKey names one page of one version of one object. Version is the ETag: a new ETag is a new page set,
// so a reader never mixes two versions.
type PageKey struct {
	Object  string // full object key in the bucket
	Version string // ETag
	Index   int64  // page number: offset / page size
}

// FetchFunc fetches a page's bytes (len <= pageSize; shorter only for the last page of an object).
// It receives a context that is NOT the caller's request context: a page fetch is shared by every waiter,
// so one waiter being interrupted must not cancel it for the others.
//
// The returned slice is handed over to the cache: the FetchFunc must not keep or modify it afterwards.
type FetchFunc func(ctx context.Context) ([]byte, error)

// PageCache is a bounded in-memory LRU of plaintext pages with single-flight fetching.
// It is safe for concurrent use.
type PageCache struct {
	pageSize     int
	maxPages     int
	fetchTimeout time.Duration

	// lru is internally locked, but every mutation of it (Add, Remove) happens
	// with mu held as well: that makes "look in the LRU, else join or start a
	// flight" atomic with "store the result and retire the flight", so a miss can
	// never slip between the two and start a second fetch, and it keeps bytes
	// (maintained by the eviction callback, which runs synchronously in the
	// mutating goroutine) exact.
	lru *lru.Cache[PageKey, []byte]

	mu      sync.Mutex
	flights map[PageKey]*call // guarded by mu
	bytes   int64             // guarded by mu: sum of len() of the pages in lru

	hits, misses, fetches atomic.Int64
}

// New makes a cache holding at most capacity bytes of pages of pageSize bytes each (capacity/pageSize pages, at least 1).
// fetchTimeout bounds each shared fetch (its ctx is context.Background() with that timeout); a fetchTimeout <= 0
// means no timeout. New panics if pageSize <= 0, which is a programming error.
//
// If capacity is smaller than pageSize the cache still holds one page: a cache that can hold nothing would turn
// every read into a fetch and ReadAt could not make progress page by page.
func New(capacity int64, pageSize int, fetchTimeout time.Duration) *PageCache {
	if pageSize <= 0 {
		panic(fmt.Sprintf("cache: page size %d is not positive", pageSize))
	}
	n := capacity / int64(pageSize)
	if n < 1 {
		n = 1
	}
	if n > int64(math.MaxInt) { // only reachable where int is 32 bits
		n = int64(math.MaxInt)
	}
	c := &PageCache{
		pageSize:     pageSize,
		maxPages:     int(n),
		fetchTimeout: fetchTimeout,
		flights:      make(map[PageKey]*call),
	}
	l, err := lru.NewWithEvict[PageKey, []byte](c.maxPages, c.onEvict)
	if err != nil {
		// lru only fails for a non-positive size, which n >= 1 rules out.
		panic(fmt.Sprintf("cache: %v", err))
	}
	c.lru = l
	return c
}

// onEvict keeps the byte count exact. golang-lru calls it synchronously in the
// goroutine that did the Add/Remove, and all of those hold c.mu.
func (c *PageCache) onEvict(_ PageKey, page []byte) {
	c.bytes -= int64(len(page))
}

// PageSize returns the page size the cache was made with.
func (c *PageCache) PageSize() int { return c.pageSize }

// Get returns the page's bytes: from the LRU on a hit; on a miss it calls fetch once however many goroutines
// ask for the same key concurrently (single flight), stores the result (errors are NOT cached), and returns it.
// If ctx is done before the shared fetch finishes, Get returns ctx.Err() for this caller while the fetch
// goes on for the others (and still fills the cache). If ctx is already done on a miss and no fetch of the key is
// in progress, Get returns ctx.Err() without starting one.
// The returned slice must be treated as read-only by the caller.
func (c *PageCache) Get(ctx context.Context, key PageKey, fetch FetchFunc) ([]byte, error) {
	return c.get(ctx, key, func() FetchFunc { return fetch })
}

// get is Get with a lazily made FetchFunc, so that ReadAt calls its pageFetch
// only for pages that really have to be fetched (not for hits, nor for pages
// another goroutine is already fetching).
func (c *PageCache) get(ctx context.Context, key PageKey, makeFetch func() FetchFunc) ([]byte, error) {
	// Fast path: a hit needs only the LRU's own lock.
	if page, ok := c.lru.Get(key); ok {
		c.hits.Add(1)
		return page, nil
	}

	c.mu.Lock()
	// Look again under mu: a flight may have stored the page since the fast path.
	if page, ok := c.lru.Get(key); ok {
		c.mu.Unlock()
		c.hits.Add(1)
		return page, nil
	}
	c.misses.Add(1)
	cl, ok := c.flights[key]
	if !ok {
		if err := ctx.Err(); err != nil {
			// Nobody is waiting for this page and the only asker has given up:
			// don't spend a GET on it.
			c.mu.Unlock()
			return nil, err
		}
		cl = c.startLocked(key, makeFetch)
	}
	c.mu.Unlock()
	return cl.wait(ctx)
}

// storeLocked puts a fetched page in the LRU, evicting the least recently used
// page if full. c.mu must be held.
func (c *PageCache) storeLocked(key PageKey, page []byte) {
	// Replacing a key does not call the eviction callback, so account for the
	// old value here. (Flights make this rare, but Forget can retire a flight
	// and let a second one for the same key race it.)
	if old, ok := c.lru.Peek(key); ok {
		c.bytes -= int64(len(old))
	}
	c.bytes += int64(len(page))
	c.lru.Add(key, page)
}

// Forget drops every cached page of object (any version); used when an object is known to have changed.
// Fetches of object already in progress still answer their waiters, but their results are not stored, and a Get
// after Forget starts a fresh fetch rather than joining one that began before it.
func (c *PageCache) Forget(object string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A scan is O(pages in cache), fine for an operation that happens on
	// writes/invalidations, and it avoids keeping a second index in sync.
	for _, k := range c.lru.Keys() {
		if k.Object == object {
			c.lru.Remove(k)
		}
	}
	for k, cl := range c.flights {
		if k.Object == object {
			cl.forgotten = true
			delete(c.flights, k)
		}
	}
}

// drop removes one page (used when a cached page turns out to be
// unusable, so the error is not sticky).
func (c *PageCache) drop(key PageKey) {
	c.mu.Lock()
	c.lru.Remove(key)
	c.mu.Unlock()
}

// Stats for tests and logs.
type Stats struct {
	Hits, Misses, Fetches int64
	Pages                 int
	Bytes                 int64
}

// Stats returns counters since New (Hits, Misses: Get lookups, including those made by ReadAt; Fetches: FetchFunc
// calls) and the current content of the cache (Pages, Bytes).
func (c *PageCache) Stats() Stats {
	c.mu.Lock()
	pages, b := c.lru.Len(), c.bytes
	c.mu.Unlock()
	return Stats{
		Hits:    c.hits.Load(),
		Misses:  c.misses.Load(),
		Fetches: c.fetches.Load(),
		Pages:   pages,
		Bytes:   b,
	}
}
