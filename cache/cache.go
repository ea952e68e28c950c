package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
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
)

// sequentialGap is how far from the end of the previous read a read may start and still
// count as sequential: the kernel reorders and overlaps the concurrent reads of one file.
const sequentialGap = 256 << 10

// minWindowPages is the smallest read-ahead window worth having, in pages: in a
// cache of less than 4 times as many, reads ahead would evict each other.
const minWindowPages = 4

// ErrClosed is returned by reads on a PageCache after Close.
var ErrClosed = errors.New("cache: closed")

// pageKey names one page of one version of one object. The version is the ETag: a
// new ETag is a new page set, so a reader never mixes two versions.
type pageKey struct {
	object  string // full object key in the bucket
	version string // ETag
	index   int64  // page number: offset / page size
}

// Options configure a PageCache. The zero value means every default.
type Options struct {
	// PageSize is the size of a page, the unit of caching; 0 means DefaultPageSize.
	PageSize int
	// FetchTimeout bounds each shared fetch, whose ctx is the cache's (cancelled by Close),
	// not a reader's; <= 0 means no timeout.
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
	// Observer, if set, is told of hits, misses, evictions and read-ahead (observe.go).
	Observer Observer
}

// PageCache is a bounded cache of plaintext pages in a fixed arena, with single-flight fetching.
// It is safe for concurrent use. Read it through Readers (NewReader).
type PageCache struct {
	// Set by New, then only read: no lock.
	pageSize     int
	maxPages     int
	fetchTimeout time.Duration

	raBlock    int64 // bytes per read-ahead fetch, a page multiple; 0: no read-ahead
	raParallel int
	raMax      int64 // largest read-ahead window, a multiple of raBlock
	runPages   int64 // most pages one fetch of a Reader covers
	raBudget   int64 // most read-ahead bytes in flight over all Readers

	mem    *arena // its pages are the slots' data; unmapped by Close (or a cleanup)
	locked bool
	obs    Observer // nil: nobody watches

	// base is the parent of every fetch's context: Close cancels it.
	base   context.Context
	cancel context.CancelFunc
	// wg counts fetch goroutines. Add happens only under mu while !closed, so Close
	// can wait for them once it has set closed.
	wg sync.WaitGroup

	// mu guards every field below, and the bookkeeping of each slot (key, n, pins,
	// state, LRU links). It is never held while a page is copied: a slot's data is
	// read under a pin, and written by the fetch that reserved it (see slots.go).
	// Lock order: Reader.mu, then mu; mu is never held when a Reader's lock is taken.
	mu       sync.Mutex
	unpinned sync.Cond // on mu: signalled when pinned drops to 0 while closed
	closed   bool
	slots    []slot              // one per arena page; never reallocated until Close
	free     []int32             // free slots (fully zero)
	head     int32               // most recently used cached slot, -1 if none
	tail     int32               // least recently used cached slot, -1 if none
	index    map[pageKey]int32   // cached pages
	flights  map[pageKey]*flight // pages being fetched: a page is in index or here, never both
	bytes    int64               // sum of n of cached slots
	pinned   int                 // sum of pins

	raInflight    int64 // read-ahead bytes being fetched, over all Readers
	raInflightMax int64 // high-water mark of raInflight, for tests

	// testHookPinned, if set (by a test, before any read), runs after a cached page is
	// pinned and before it is copied.
	testHookPinned func(pageKey)
}

// New makes a cache of capacity bytes (capacity/PageSize pages, at least 1) in an arena mapped now, outside
// the Go heap. It fails if the arena cannot be mapped, or if opts.PageSize is negative. Call Close to zero and
// unmap the arena; a PageCache that becomes unreachable unmaps it too.
//
// If capacity is smaller than a page the cache still holds one page: a cache that can hold nothing would turn
// every read into a fetch, and a read could not make progress page by page.
func New(capacity int64, opts Options) (*PageCache, error) {
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
		obs:          opts.Observer,
		mem:          mem,
		locked:       mem.locked,
		slots:        make([]slot, n),
		free:         make([]int32, 0, n),
		head:         -1,
		tail:         -1,
		index:        make(map[pageKey]int32),
		flights:      make(map[pageKey]*flight),
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
	// Read-ahead of all Readers together stays within a quarter of the cache too:
	// its fetches take slots (evicting pages) before their bytes arrive.
	c.raBudget = int64(c.maxPages) * ps / 4
}

// Locked reports whether the arena is locked in RAM (mlock). If it is not (RLIMIT_MEMLOCK too low, and no
// CAP_IPC_LOCK), plaintext pages may be written to swap: the caller should log a warning once.
func (c *PageCache) Locked() bool { return c.locked }

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
