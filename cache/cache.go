// Package cache holds decrypted (plaintext) pages of S3 objects in a fixed
// memory arena, makes concurrent misses for one page share a single fetch,
// coalesces adjacent missing pages into one ranged fetch, and reads ahead for
// sequential readers.
//
// Plaintext lives only in memory: this package never writes to disk, not even
// to temporary files, because the whole point of SSE-C is that readable bytes
// exist nowhere but in the process that holds the key. The arena is allocated
// once, outside the Go heap (an anonymous private mapping, on Linux), locked
// in RAM where RLIMIT_MEMLOCK allows (see Locked) and excluded from core dumps.
// A page is zeroed as soon as it leaves the cache (evicted, forgotten, or at
// Close), and bytes handed over by a fetch are zeroed once copied.
//
// Because leaving zeroes a page, a page is pinned while a reader copies from
// it, and eviction skips pinned pages.
package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	// DefaultPageSize is the page size when Options.PageSize is 0: small, so that a random
	// 4 KiB read costs one small GET.
	DefaultPageSize = 128 << 10
	// DefaultReadAheadBlock is the size of one read-ahead fetch (one ranged GET).
	DefaultReadAheadBlock = 8 << 20
	// DefaultReadAheadParallel is how many read-ahead fetches one Reader has in flight at most.
	DefaultReadAheadParallel = 4
	// DefaultReadAheadMax is the largest read-ahead window (it is also never more than a
	// quarter of the cache).
	DefaultReadAheadMax = 64 << 20
	// SequentialGap is how far from the end of the previous read a read may start and still
	// count as sequential: the kernel reorders and overlaps the concurrent reads of one file.
	SequentialGap = 256 << 10
)

// minWindowPages is the smallest read-ahead window worth having, in pages: in a
// cache of less than 4 times as many, reads ahead would evict each other.
const minWindowPages = 4

// ErrClosed is returned by reads on a PageCache after Close.
var ErrClosed = errors.New("cache: closed")

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
// The returned slice is handed over to the cache: the FetchFunc must not keep or modify it afterwards. The cache
// copies it into its arena and then zeroes it.
type FetchFunc func(ctx context.Context) ([]byte, error)

// Options configure a PageCache. The zero value means every default.
type Options struct {
	// PageSize is the size of a page, the unit of caching; 0 means DefaultPageSize.
	PageSize int
	// FetchTimeout bounds each shared fetch (its ctx derives from context.Background());
	// <= 0 means no timeout.
	FetchTimeout time.Duration
	// ReadAheadBlock is the size of one read-ahead fetch; 0 means DefaultReadAheadBlock.
	// It is rounded down to a multiple of the page size (at least one page) and is never
	// more than the largest window.
	ReadAheadBlock int64
	// ReadAheadParallel is how many read-ahead fetches one Reader has in flight at most;
	// 0 means DefaultReadAheadParallel.
	ReadAheadParallel int
	// ReadAheadMax is the largest read-ahead window of a Reader; 0 means
	// DefaultReadAheadMax. Whatever it says, the window is at most a quarter of the
	// cache's capacity, so that read-ahead cannot evict what readers are about to read.
	ReadAheadMax int64
	// NoReadAhead turns read-ahead off: Readers fetch only the pages they read.
	NoReadAhead bool
}

// PageCache is a bounded cache of plaintext pages in a fixed arena, with single-flight fetching.
// It is safe for concurrent use.
type PageCache struct {
	pageSize     int
	maxPages     int
	fetchTimeout time.Duration

	raBlock    int64 // bytes per read-ahead fetch, a page multiple; 0: no read-ahead
	raParallel int
	raMax      int64 // largest read-ahead window, a multiple of raBlock
	runPages   int64 // most pages one fetch of a Reader covers
	raBudget   int64 // most read-ahead bytes in flight over all Readers

	mem    *arena
	locked bool

	// base is the parent of every fetch's context: Close cancels it.
	base   context.Context
	cancel context.CancelFunc
	// wg counts fetch goroutines. Add happens only under mu while !closed, so Close
	// can wait for them once it has set closed.
	wg sync.WaitGroup

	mu       sync.Mutex
	unpinned sync.Cond // on mu: signalled when pinned drops to 0 while closed
	closed   bool
	slots    []slot              // one per arena page; never reallocated until Close
	free     []int32             // free slots (fully zero)
	head     int32               // most recently used cached slot, -1 if none
	tail     int32               // least recently used cached slot, -1 if none
	index    map[PageKey]int32   // cached pages
	flights  map[PageKey]*flight // pages being fetched
	bytes    int64               // sum of n of cached slots
	pinned   int                 // sum of pins

	raInflight    int64 // read-ahead bytes being fetched, over all Readers
	raInflightMax int64 // high-water mark of raInflight, for tests

	hits, misses, fetches, rangeFetches, fetchedBytes, readAheadBytes atomic.Int64

	// testHookPinned, if set, runs after a cached page is pinned and before it is copied.
	testHookPinned func(PageKey)
}

type slotState uint8

const (
	slotFree     slotState = iota // in free, all zero
	slotCached                    // in index and in the LRU list
	slotDoomed                    // out of index and list, still pinned: freed by the last unpin
	slotReserved                  // taken by a fetch that is copying a page into it
)

// slot is one page of the arena.
type slot struct {
	data       []byte // the arena page, len pageSize
	key        PageKey
	n          int // bytes of data in use
	pins       int32
	state      slotState
	prev, next int32 // LRU links (towards head, towards tail)
}

// New makes a cache holding at most capacity bytes of pages of pageSize bytes each (capacity/pageSize pages, at least 1).
// fetchTimeout bounds each shared fetch (its ctx is context.Background() with that timeout); a fetchTimeout <= 0
// means no timeout. New panics if pageSize <= 0, which is a programming error, or if the arena cannot be mapped;
// NewWithOptions returns that error instead.
//
// If capacity is smaller than pageSize the cache still holds one page: a cache that can hold nothing would turn
// every read into a fetch and ReadAt could not make progress page by page.
func New(capacity int64, pageSize int, fetchTimeout time.Duration) *PageCache {
	if pageSize <= 0 {
		panic(fmt.Sprintf("cache: page size %d is not positive", pageSize))
	}
	c, err := NewWithOptions(capacity, Options{PageSize: pageSize, FetchTimeout: fetchTimeout})
	if err != nil {
		panic(err.Error())
	}
	return c
}

// NewWithOptions makes a cache of capacity bytes (capacity/PageSize pages, at least 1) in an arena mapped
// now, outside the Go heap. It fails if the arena cannot be mapped, or if opts.PageSize is negative. Call Close
// to zero and unmap the arena; a PageCache that becomes unreachable unmaps it too.
func NewWithOptions(capacity int64, opts Options) (*PageCache, error) {
	ps := opts.PageSize
	if ps == 0 {
		ps = DefaultPageSize
	}
	if ps < 0 {
		return nil, fmt.Errorf("cache: page size %d is not positive", ps)
	}
	n := capacity / int64(ps)
	if n < 1 {
		n = 1
	}
	if n > int64(math.MaxInt32) || n > int64(math.MaxInt)/int64(ps) {
		return nil, fmt.Errorf("cache: capacity %d is too large for pages of %d bytes", capacity, ps)
	}
	mem, err := mapArena(int(n) * ps)
	if err != nil {
		return nil, err
	}
	c := &PageCache{
		pageSize:     ps,
		maxPages:     int(n),
		fetchTimeout: opts.FetchTimeout,
		mem:          mem,
		locked:       mem.locked,
		slots:        make([]slot, n),
		free:         make([]int32, 0, n),
		head:         -1,
		tail:         -1,
		index:        make(map[PageKey]int32),
		flights:      make(map[PageKey]*flight),
	}
	c.unpinned.L = &c.mu
	c.base, c.cancel = context.WithCancel(context.Background())
	for i := range c.slots {
		c.slots[i].data = mem.mem[i*ps : (i+1)*ps : (i+1)*ps]
		c.slots[i].prev, c.slots[i].next = -1, -1
	}
	for i := int32(n) - 1; i >= 0; i-- { // so that slot 0 is used first
		c.free = append(c.free, i)
	}
	c.configureReadAhead(opts)
	// Unmap the arena of a cache dropped without Close. Nothing outside c points
	// into the arena, so once c is unreachable nobody can touch it.
	runtime.AddCleanup(c, func(a *arena) { a.release() }, mem)
	return c, nil
}

func (c *PageCache) configureReadAhead(opts Options) {
	ps := int64(c.pageSize)
	block := opts.ReadAheadBlock
	if block <= 0 {
		block = DefaultReadAheadBlock
	}
	block = max(ps, block/ps*ps)
	// A Reader's own fetch coalesces at most a block's worth of pages.
	c.runPages = block / ps
	c.raParallel = opts.ReadAheadParallel
	if c.raParallel <= 0 {
		c.raParallel = DefaultReadAheadParallel
	}
	maxWin := opts.ReadAheadMax
	if maxWin <= 0 {
		maxWin = DefaultReadAheadMax
	}
	maxWin = min(maxWin, int64(c.maxPages)*ps/4)
	block = min(block, maxWin/ps*ps)
	if opts.NoReadAhead || maxWin < minWindowPages*ps {
		return // too small a cache to read ahead without thrashing
	}
	c.raBlock = block
	c.raMax = maxWin / block * block
	// Read-ahead of all Readers together stays within a quarter of the cache too
	// (its fetched bytes are also on the Go heap until copied into the arena).
	c.raBudget = int64(c.maxPages) * ps / 4
}

// PageSize returns the page size the cache was made with.
func (c *PageCache) PageSize() int { return c.pageSize }

// Locked reports whether the arena is locked in RAM (mlock). If it is not (RLIMIT_MEMLOCK too low, and no
// CAP_IPC_LOCK), plaintext pages may be written to swap: the caller should log a warning once.
func (c *PageCache) Locked() bool { return c.locked }

// Get returns a copy of the page's bytes: from the cache on a hit; on a miss it calls fetch once however many
// goroutines ask for the same key concurrently (single flight), stores the result (errors are NOT cached), and
// returns it. If ctx is done before the shared fetch finishes, Get returns ctx.Err() for this caller while the fetch
// goes on for the others (and still fills the cache). If ctx is already done on a miss and no fetch of the key is
// in progress, Get returns ctx.Err() without starting one.
//
// The returned slice is the caller's (a fresh copy, on the Go heap: zero it when done if that matters).
//
// Deprecated: use ReadAt or a Reader, which copy into the caller's buffer without an allocation.
func (c *PageCache) Get(ctx context.Context, key PageKey, fetch FetchFunc) ([]byte, error) {
	src := &source{object: key.Object, version: key.Version, size: -1, maxRun: 1,
		fetch: func(ctx context.Context, first, _ int64) ([]byte, error) {
			if fetch == nil {
				return nil, errNoFetch
			}
			return fetch(ctx)
		}}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if i, ok := c.index[key]; ok {
		s := c.pinLocked(i)
		c.mu.Unlock()
		out := make([]byte, s.n)
		copy(out, s.data[:s.n])
		c.unpin(i, false)
		return out, nil
	}
	c.misses.Add(1)
	fl := c.flights[key]
	if fl == nil {
		if err := ctx.Err(); err != nil {
			// Nobody is waiting for this page and the only asker has given up:
			// don't spend a GET on it.
			c.mu.Unlock()
			return nil, err
		}
		fl = c.startLocked(src, key.Index, 1, 0, nil)
	}
	fl.refs.Add(1)
	c.mu.Unlock()
	defer fl.release()
	if err := fl.wait(ctx); err != nil {
		return nil, err
	}
	page := fl.page(key.Index, c.pageSize)
	out := make([]byte, len(page))
	copy(out, page)
	return out, nil
}

// Forget drops every cached page of object (any version), zeroing it; used when an object is known to have
// changed. A page being copied by a reader is zeroed as soon as that copy is done. Fetches of object already in
// progress still answer their waiters, but their results are not stored, and a read after Forget starts a fresh
// fetch rather than joining one that began before it.
func (c *PageCache) Forget(object string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A scan is O(pages in cache), fine for an operation that happens on
	// writes/invalidations, and it avoids keeping a second index in sync.
	for k, i := range c.index {
		if k.Object == object {
			c.removeLocked(i)
		}
	}
	for k, fl := range c.flights {
		if k.Object == object {
			fl.forgotten = true
			delete(c.flights, k)
		}
	}
}

// Close stops every fetch (their contexts are cancelled) and waits for them to end, waits for copies in
// progress, zeroes every page and unmaps the arena. Reads after Close fail with ErrClosed; Readers stop
// reading ahead. Close is idempotent.
func (c *PageCache) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cancel()
	for k, fl := range c.flights {
		fl.forgotten = true
		delete(c.flights, k)
	}
	c.mu.Unlock()

	c.wg.Wait() // fetches end promptly: their contexts are cancelled

	c.mu.Lock()
	defer c.mu.Unlock()
	for c.pinned > 0 {
		c.unpinned.Wait()
	}
	for _, i := range c.index {
		c.removeLocked(i)
	}
	c.slots, c.free = nil, nil
	c.mem.release()
}

// Stats for tests and logs.
type Stats struct {
	Hits, Misses, Fetches int64
	Pages                 int
	Bytes                 int64
	// MaxPages is the number of pages of the arena: capacity / page size, at least 1.
	MaxPages int
	// RangeFetches counts fetches made for Readers (RangeFunc calls): each is one ranged
	// GET that may cover several pages.
	RangeFetches int64
	// FetchedBytes counts the bytes returned by every fetch.
	FetchedBytes int64
	// ReadAheadBytes counts the bytes returned by read-ahead fetches.
	ReadAheadBytes int64
}

// Stats returns counters since New (Hits, Misses: page lookups, including those made by reads; Fetches: FetchFunc and
// RangeFunc calls) and the current content of the cache (Pages, Bytes).
func (c *PageCache) Stats() Stats {
	c.mu.Lock()
	pages, b := len(c.index), c.bytes
	c.mu.Unlock()
	return Stats{
		Hits:           c.hits.Load(),
		Misses:         c.misses.Load(),
		Fetches:        c.fetches.Load(),
		Pages:          pages,
		Bytes:          b,
		MaxPages:       c.maxPages,
		RangeFetches:   c.rangeFetches.Load(),
		FetchedBytes:   c.fetchedBytes.Load(),
		ReadAheadBytes: c.readAheadBytes.Load(),
	}
}

// --- slots: LRU list, pinning, eviction. Everything here runs with c.mu held, except unpin.

func (c *PageCache) unlinkLocked(i int32) {
	s := &c.slots[i]
	if s.prev >= 0 {
		c.slots[s.prev].next = s.next
	} else {
		c.head = s.next
	}
	if s.next >= 0 {
		c.slots[s.next].prev = s.prev
	} else {
		c.tail = s.prev
	}
	s.prev, s.next = -1, -1
}

func (c *PageCache) pushFrontLocked(i int32) {
	s := &c.slots[i]
	s.prev, s.next = -1, c.head
	if c.head >= 0 {
		c.slots[c.head].prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}

// pinLocked pins cached slot i and marks it most recently used.
func (c *PageCache) pinLocked(i int32) *slot {
	s := &c.slots[i]
	s.pins++
	c.pinned++
	if c.head != i {
		c.unlinkLocked(i)
		c.pushFrontLocked(i)
	}
	c.hits.Add(1)
	return s
}

// unpin ends a copy from slot i. A slot removed while pinned is zeroed and freed by
// its last unpin. If drop, the page turned out unusable: remove it from the cache.
func (c *PageCache) unpin(i int32, drop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[i]
	if drop && s.state == slotCached {
		c.removeLocked(i)
	}
	s.pins--
	c.pinned--
	if s.pins == 0 && s.state == slotDoomed {
		c.freeLocked(i)
	}
	if c.pinned == 0 && c.closed {
		c.unpinned.Broadcast()
	}
}

// removeLocked takes cached slot i out of the cache: zeroed and freed now, or by its
// last unpin if a copy is in progress.
func (c *PageCache) removeLocked(i int32) {
	s := &c.slots[i]
	delete(c.index, s.key)
	c.unlinkLocked(i)
	c.bytes -= int64(s.n)
	if s.pins > 0 {
		s.state = slotDoomed
		return
	}
	c.freeLocked(i)
}

// freeLocked zeroes slot i and puts it on the free list.
func (c *PageCache) freeLocked(i int32) {
	s := &c.slots[i]
	clear(s.data[:s.n])
	s.n, s.key, s.state = 0, PageKey{}, slotFree
	c.free = append(c.free, i)
}

// reserveLocked takes a slot for a page about to be stored: a free one, else the least
// recently used unpinned page, evicted. The slot is the caller's until it publishes or
// frees it; it may still hold n bytes of the evicted page, which the caller zeroes
// (outside c.mu) as it overwrites them. Returns -1 if every page is pinned.
func (c *PageCache) reserveLocked() int32 {
	if n := len(c.free); n > 0 {
		i := c.free[n-1]
		c.free = c.free[:n-1]
		c.slots[i].state = slotReserved
		return i
	}
	for i := c.tail; i >= 0; i = c.slots[i].prev {
		s := &c.slots[i]
		if s.pins == 0 {
			delete(c.index, s.key)
			c.unlinkLocked(i)
			c.bytes -= int64(s.n)
			s.key, s.state = PageKey{}, slotReserved
			return i
		}
	}
	return -1
}

// fill writes page into reserved slot i, zeroing what is left of the page it held.
// It runs without c.mu: nobody else touches a reserved slot.
func (c *PageCache) fill(i int32, page []byte) {
	s := &c.slots[i]
	n := copy(s.data, page)
	if s.n > n {
		clear(s.data[n:s.n])
	}
	s.n = n
}

// publishLocked makes filled slot i the cached page key, most recently used.
func (c *PageCache) publishLocked(i int32, key PageKey) {
	if old, ok := c.index[key]; ok {
		// Forget retired a flight and a second one for the same key raced it.
		c.removeLocked(old)
	}
	s := &c.slots[i]
	s.key, s.state = key, slotCached
	c.index[key] = i
	c.pushFrontLocked(i)
	c.bytes += int64(s.n)
}
