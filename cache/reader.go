package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// RangeFunc fetches bytes of one version of an object from off into the buffers of dst, filling them in
// order, and returns how many bytes it wrote: all that dst holds, as the cache asks only for bytes within the
// size the Reader was given, or fewer at the end of the object. The buffers are arena pages: the answer goes
// straight where it is cached, with no buffer of its own. It runs on a context of its own, not the context of
// the read that needed it: a fetch is shared by every read waiting for its pages, so one of them being
// interrupted must not cancel it for the others. It must not keep dst once it returns; on error, what it wrote
// is zeroed by the cache.
type RangeFunc func(ctx context.Context, off int64, dst [][]byte) (int64, error)

// Reader reads one version of one object through the cache, detecting sequential access and reading ahead.
// Pages are shared with every other Reader of the same version (they are keyed by object, version and page
// number). A Reader is safe for concurrent use: the kernel sends the reads of one open file concurrently.
//
// A read is sequential if it starts within 256 KiB of where the latest one ended (or, once reads are
// sequential, up to a read-ahead block before: the kernel sends several reads of a file at once). After two
// sequential reads in a row, the Reader fetches ahead of them in blocks of the read-ahead block size, one
// ranged fetch per block, several at once; the window it keeps fetched ahead of the reader starts at one block
// and doubles each time the reader enters a new block, up to the largest window. A read that is not
// sequential resets the window: it fetches only the pages it needs (adjacent missing pages in one fetch).
type Reader struct {
	// Set by NewReader, then only read: no lock.
	c   *PageCache
	src source
	// block and maxWindow are bytes, multiples of the page size; block is 0 without
	// read-ahead.
	block, maxWindow int64
	parallel         int

	// mu guards the sequential detection and the read-ahead state below. It is
	// taken before PageCache.mu (readAheadLocked starts fetches under both), never
	// after: a finished fetch calls fetched with no lock held.
	mu       sync.Mutex
	closed   bool
	lastEnd  int64 // furthest end of the current sequential stream; of the latest read if there is none
	lastOff  int64 // start of the latest sequential read
	streak   int   // sequential reads in a row
	runStart int64 // where the current sequential stream began
	window   int64 // read-ahead wanted past lastEnd; 0: none
	raNext   int64 // read-ahead has been started up to here
	inflight int   // read-ahead fetches in flight
}

// NewReader returns a Reader of version of object, whose size is size, fetching with fetch. Close it when the
// file is closed.
func (c *PageCache) NewReader(object, version string, size int64, fetch RangeFunc) *Reader {
	return &Reader{
		c:     c,
		src:   source{object: object, version: version, size: size, fetch: fetch},
		block: c.raBlock, maxWindow: c.raMax, parallel: c.raParallel,
	}
}

// ReadAt copies object bytes [off, off+len(dst)) into dst, with FUSE semantics: the count is short only at the
// end of the object (unlike io.ReaderAt, with a nil error), and a read at or after it returns 0, nil. On error,
// n counts the bytes of dst before the first page that failed, which are valid, and the error is that page's.
// A page shorter than the size implies is reported as an error wrapping io.ErrUnexpectedEOF. Errors are not
// cached: the next read of the page fetches it again. ctx bounds only this caller's wait: fetches go on for
// the others. A ReadAt after Reader.Close still reads, without reading ahead; after PageCache.Close it fails
// with ErrClosed.
func (r *Reader) ReadAt(ctx context.Context, dst []byte, off int64) (int, error) {
	size := r.src.size
	if off < 0 {
		return 0, fmt.Errorf("cache: read of %q at negative offset %d", r.src.object, off)
	}
	if size < 0 {
		return 0, fmt.Errorf("cache: read of %q with negative size %d", r.src.object, size)
	}
	if off >= size || len(dst) == 0 {
		return 0, nil
	}
	// end = min(off+len(dst), size), written so that it cannot overflow.
	end := size
	if int64(len(dst)) < size-off {
		end = off + int64(len(dst))
	}
	r.observe(off, end)
	return r.c.read(ctx, &r.src, dst[:end-off], off, end)
}

// Close stops the Reader's read-ahead. Fetches in flight may finish and fill the cache (they are
// bounded by the fetch timeout, and PageCache.Close cancels them).
func (r *Reader) Close() {
	r.mu.Lock()
	r.closed = true
	r.window = 0
	r.mu.Unlock()
}

// minSequentialRun is how far a stream of reads must reach before read-ahead starts:
// more than one application read (1 MiB at most through FUSE).
const minSequentialRun = 2 << 20

// observe updates the sequential detection with a read of [off, end) and starts the
// read-ahead it calls for.
func (r *Reader) observe(off, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.block == 0 {
		return
	}
	prevEnd := r.lastEnd
	// Once a stream is established, a read that lags behind its head by up to a
	// block is a straggler of it (the kernel sends several reads at once), not a
	// seek: it must not reset the window.
	behind := int64(sequentialGap)
	if r.streak >= 2 {
		behind = max(behind, r.block)
	}
	if off >= r.lastEnd-behind && off <= r.lastEnd+sequentialGap {
		r.streak++
		r.lastEnd = max(r.lastEnd, end) // a reordered read may end before the latest
	} else {
		r.streak, r.window, r.raNext, r.lastEnd, r.runStart = 0, 0, 0, end, off
	}
	// The kernel cuts one large read into several smaller ones that arrive together,
	// which look sequential; only a stream longer than any single read is one.
	if r.streak < 2 || r.lastEnd-r.runStart < minSequentialRun {
		return
	}
	switch {
	case r.window == 0:
		r.window = r.block
	case r.lastEnd/r.block > prevEnd/r.block:
		// The reader kept up and entered a new block: look further ahead.
		r.window = min(2*r.window, r.maxWindow)
	}
	r.lastOff = off
	r.readAheadLocked()
}

// readAheadLocked starts fetches of whole blocks, from the one holding the latest
// sequential read up to lastEnd+window, at most parallel at once. Pages cached or
// being fetched already are skipped, so a block may need no fetch (another Reader of
// the same version read it) or several. r.mu must be held.
func (r *Reader) readAheadLocked() {
	if r.closed || r.window == 0 {
		return
	}
	ps := int64(r.c.pageSize)
	target := min(r.lastEnd+r.window, r.src.size)
	for b := max(r.raNext, r.lastOff/r.block*r.block); b < target && r.inflight < r.parallel; {
		bEnd := min(b+r.block, r.src.size)
		n, err := r.c.startRange(&r.src, b/ps, (bEnd+ps-1)/ps, r.fetched)
		if err != nil {
			return // closed, or over budget: the next read or fetch done tries again
		}
		r.inflight += n
		r.raNext, b = bEnd, bEnd
	}
}

// fetched is called when one of the Reader's read-ahead fetches is done: it keeps the
// window full while the reader is still there to read it.
func (r *Reader) fetched() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight--
	r.readAheadLocked()
}

// startRange starts read-ahead fetches of the pages [from, to) of src that are
// neither cached nor being fetched, one per run of adjacent such pages, and returns
// how many it started. onDone is called as each one ends. It starts nothing, and
// says so, if that would put more read-ahead in flight, over all Readers, than the
// cache's budget: fetched pages must fit beside the ones readers are reading.
func (c *PageCache) startRange(src *source, from, to int64, onDone func()) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	ps := int64(c.pageSize)
	runs, bytes := c.missingRunsLocked(src, from, to)
	if bytes > 0 && c.raInflight > 0 && c.raInflight+bytes > c.raBudget {
		return 0, errBudget
	}
	for _, r := range runs {
		c.startLocked(src, r.first, r.n, min(r.n*ps, src.size-r.first*ps), onDone)
	}
	c.raInflightMax = max(c.raInflightMax, c.raInflight)
	return len(runs), nil
}

// errBudget says that read-ahead must wait: the cache's budget is in flight.
var errBudget = errors.New("cache: read-ahead budget in flight")

// pageRun is pages [first, first+n) of a source.
type pageRun struct{ first, n int64 }

// missingRunsLocked finds the runs of adjacent pages of [from, to) of src that are
// neither cached nor being fetched, each at most a fetch long, and their bytes.
func (c *PageCache) missingRunsLocked(src *source, from, to int64) ([]pageRun, int64) {
	ps := int64(c.pageSize)
	var runs []pageRun
	var bytes int64
	for idx := from; idx < to; {
		if !c.missingLocked(src.key(idx)) {
			idx++
			continue
		}
		n := int64(1)
		for n < c.runPages && idx+n < to && c.missingLocked(src.key(idx+n)) {
			n++
		}
		runs = append(runs, pageRun{idx, n})
		bytes += min(n*ps, src.size-idx*ps)
		idx += n
	}
	return runs, bytes
}
