// Package cache holds decrypted (plaintext) pages of S3 objects in a fixed memory
// arena. Every read of an object version goes through one door, a Reader: misses of
// one page by concurrent reads share a single fetch, adjacent missing pages are
// fetched with one ranged request, and a Reader that is read front to back reads
// ahead. Plaintext lives only in memory: this package never writes to disk, not even
// to temporary files, because the whole point of SSE-C is that readable bytes exist
// nowhere but in the process that holds the key.
//
// # One read, file by file
//
// fs makes a Reader with PageCache.NewReader for each open file handle, and one for
// the base of a file being edited, naming the object, its version (the ETag) and its
// size, with a RangeFunc that is a keyed ranged GET pinned to that ETag
// (bucket.ReadRange: SSE-C headers and If-Match), so that a Reader never mixes two
// versions of an object. Pages are keyed by object, version and page number
// (offset / page size), so all Readers of one version share them. A FUSE read of the
// file then calls Reader.ReadAt(ctx, dst, off):
//
//  1. reader.go, Reader.ReadAt clips [off, off+len(dst)) to the size, and observe
//     feeds it to the sequential detection, which may start read-ahead (below).
//     Then PageCache.read serves the range.
//  2. plan.go, read takes the pages of the range in batches. plan, under
//     PageCache.mu, looks at each page from the first not yet copied: cached (in
//     PageCache.index), being fetched (in PageCache.flights: the read joins that
//     flight, taking a reference), or missing, when a run of adjacent missing pages
//     (at most a read-ahead block's worth) gets one new flight. A batch starts at
//     most maxParallelFetches flights. A read whose ctx is done starts none: it
//     stops at the first page it would have to fetch, with ctx's error.
//  3. flight.go, startLocked registers the new flight under each of its pages,
//     reserves an arena slot for each (slots.go, reserveLocked: a free slot, else
//     the least recently used page that nobody is copying, evicted; a page on the
//     Go heap only when every slot is pinned), and runs the fetch in a goroutine of
//     its own, not the reader's: the reader may give up (its ctx) while others wait
//     for the same fetch. fetch calls the RangeFunc with a context of its own, a
//     child of the cache's (cancelled by Close) bounded by Options.FetchTimeout,
//     turns a panic into an error, and rejects a count longer than asked.
//  4. The RangeFunc (fs's ranged GET, bucket.ReadInto) reads the response body
//     straight into those slots, page after page: the plaintext is written once, where
//     it is cached, with no intermediate buffer and no zeroing of memory about to
//     be overwritten.
//  5. flight.go, store zeroes, without the lock, what the fetch did not overwrite
//     (the tail of the page a slot held before; all of a failed fetch), then, in
//     one critical section, publishes the whole pages in index as the most
//     recently used and takes the flight out of flights: a read that misses index
//     under the lock finds the flight, and the other way round. Errors and short
//     pages are not published: the next read fetches again. The flight keeps a pin
//     on its slots until its last reference goes, so its waiters copy from them
//     even if they could be evicted. run then calls the flight's onDone (the next
//     step of a read-ahead), lets go of its own reference and wakes the waiters.
//  6. plan.go, copyPart copies each part of the batch into dst (the FUSE reply: the
//     one copy of a cached byte on its way out), in order: a cached page under a
//     pin (slots.go, pinLocked and unpin: a pinned page is neither evicted nor
//     zeroed, so the copy needs no lock), a fetched page from its flight's slot
//     (copyFlight, once flight.wait returns; it returns at once with ctx's error
//     if the reader's ctx ends first, and the fetch goes on). A page shorter than
//     the size implies fails with io.ErrUnexpectedEOF and is dropped. The first
//     part that fails ends the read, which returns the bytes before it. The last
//     reference to a flight unpins its published slots and frees (zeroed) the
//     others.
//
// # Prefetch
//
// prefetch.go, PageCache.Prefetch starts read-ahead fetches of an object nobody has
// opened yet (fs fetches the next files of a directory read in listing order), keyed
// by its version like any other pages, within half the read-ahead budget.
//
// # Read-ahead
//
// reader.go, observe: a read that starts near where the previous one ended (within
// 256 KiB, or up to a block behind once a stream is established: the kernel sends
// several reads of a file at once and out of order) continues a stream. Once two
// reads in a row have continued a stream and it is longer than any single read
// (2 MiB: the kernel splits a large read into pieces that look sequential), the
// Reader keeps a
// window ahead of it fetched, in blocks of Options.ReadAheadBlock (default 8 MiB), at most
// Options.ReadAheadParallel (default 4) fetches in flight per Reader. The window starts at
// one block and doubles each time the reader enters a new block, up to
// Options.ReadAheadMax and never more than a quarter of the cache. startRange starts
// one flight per run of pages of a block that are neither cached nor being fetched,
// so a read-ahead never fetches a page twice, and the reads that reach those pages
// join the flights. fetched, called as each read-ahead flight ends, tops the window
// up. A read that is not sequential resets the window; Reader.Close stops it. A
// cache too small for a window of four pages does not read ahead.
//
// # Locks
//
// PageCache.mu guards the index, the flights, the LRU list, the free list, the byte
// and pin counts, the read-ahead bytes in flight, closed, and the bookkeeping of
// each slot; it is never held while page bytes are copied (see slot). Reader.mu
// guards a Reader's sequential detection and read-ahead state. Lock order is
// Reader.mu, then PageCache.mu (readAheadLocked starts flights under both); a flight
// calls its Reader back (fetched) with no lock held. A flight's result (buf, err) is
// written once before its done channel is closed and read only after; its reference
// count is atomic. The fields each lock guards are listed beside them.
//
// # Metrics
//
// observe.go: Options.Observer is told of each page a read copies from the cache (a
// hit) or waits for a fetch of (a miss), of evictions, and of each page read ahead as
// it is first read or leaves unread; Held and Capacity say what the arena holds.
//
// # Memory
//
// The arena (arena.go, arena_linux.go) holds capacity / page size pages (at least
// one), mapped once by New outside the Go heap (an anonymous private mapping, on
// Linux), excluded from core dumps (MADV_DONTDUMP), and locked in RAM (mlock) where
// RLIMIT_MEMLOCK or CAP_IPC_LOCK allows: Locked says whether it is, and if not,
// pages may be swapped out. It never grows: a page that does not fit evicts the
// least recently used, and when every page is being copied from, a fetched page is
// fetched into a heap buffer for its readers and not stored. Beside the arena (and the callers' own
// buffers), plaintext is on the Go heap only in a fetch whose pages found no slot
// (every page pinned), and in the HTTP client's buffers on its way in; the read-ahead of
// all Readers together is kept within a quarter of the cache, and a read's own fetches
// cover only the pages it reads. Nothing is left behind: a page is zeroed when it
// leaves the cache (overwritten at once by the page that evicts it, the rest of it
// zeroed; zeroed when it is dropped as short, by its last unpin if a copy is in
// progress; zeroed at Close), the slots of a failed or short fetch are zeroed when its
// last reader lets go (heap pages likewise), and Close cancels the fetches, waits for
// them and for the copies in progress, zeroes every page and unmaps the arena.
package cache
