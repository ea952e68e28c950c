package cache

import (
	"context"
	"fmt"
	"io"
)

// maxParallelFetches bounds the fetches one read has in flight: enough to hide S3
// latency for a large read, few enough that one big read does not flood the bucket.
const maxParallelFetches = 8

// part is one page of a read, as planned: cached (fl == nil, err == nil), being
// fetched (fl, on which the read holds a reference), or not to be fetched (err).
type part struct {
	idx int64
	fl  *flight
	err error
}

// read copies bytes [off, end) of src into dst, which is that long; the range is
// not empty and within the object. It returns the bytes copied: on error, those of
// the pages before the first that failed.
//
// It works in batches: under c.mu it plans the pages from the first not yet
// copied, joining flights of pages being fetched and starting flights for runs of
// missing pages (up to c.runPages pages each, at most maxParallelFetches new ones
// per batch), then copies the batch in order, each cached page under a pin and each
// fetched page from its flight's bytes.
func (c *PageCache) read(ctx context.Context, src *source, dst []byte, off, end int64) (int, error) {
	ps := int64(c.pageSize)
	first, last := off/ps, (end-1)/ps

	for idx := first; idx <= last; {
		parts, err := c.plan(ctx, src, idx, last)
		if err != nil {
			return int(max(0, idx*ps-off)), err
		}
		for i, p := range parts {
			pStart := p.idx * ps
			lo, hi := max(off, pStart), end
			if end-pStart > ps { // not pStart+ps < end: that could overflow near MaxInt64
				hi = pStart + ps
			}
			if err := c.copyPart(ctx, src, p, dst[lo-off:hi-off], lo-pStart, hi-pStart); err != nil {
				for _, q := range parts[i+1:] {
					if q.fl != nil {
						q.fl.release()
					}
				}
				return int(max(0, pStart-off)), err
			}
		}
		idx = parts[len(parts)-1].idx + 1
	}
	return int(end - off), nil
}

// plan classifies pages [from, last] of src, from the first on, until it has started
// maxParallelFetches fetches (or met a page it cannot fetch because ctx is done). It
// returns at least one part.
func (c *PageCache) plan(ctx context.Context, src *source, from, last int64) ([]part, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	var parts []part
	started := 0
	for idx := from; idx <= last; {
		key := src.key(idx)
		if _, ok := c.index[key]; ok {
			parts = append(parts, part{idx: idx})
			idx++
			continue
		}
		if fl := c.flights[key]; fl != nil {
			fl.refs.Add(1)
			parts = append(parts, part{idx: idx, fl: fl})
			idx++
			continue
		}
		if err := ctx.Err(); err != nil {
			// Only this read wants the page and it has given up: don't spend a GET on it.
			return append(parts, part{idx: idx, err: err}), nil
		}
		if started == maxParallelFetches {
			break
		}
		n := int64(1)
		for n < c.runPages && idx+n <= last && c.missingLocked(src.key(idx+n)) {
			n++
		}
		fl := c.startLocked(src, idx, n, 0, nil)
		fl.refs.Add(int32(n))
		for i := range n {
			parts = append(parts, part{idx: idx + i, fl: fl})
		}
		started++
		idx += n
	}
	return parts, nil
}

// missingLocked reports whether a page is neither cached nor being fetched.
func (c *PageCache) missingLocked(key pageKey) bool {
	if _, ok := c.index[key]; ok {
		return false
	}
	_, ok := c.flights[key]
	return !ok
}

// copyPart copies bytes [lo, hi) of page p.idx into dst, and releases the read's
// reference on p's flight, if any.
func (c *PageCache) copyPart(ctx context.Context, src *source, p part, dst []byte, lo, hi int64) error {
	switch {
	case p.err != nil:
		return p.err
	case p.fl != nil:
		return c.copyFlight(ctx, src, p.fl, p.idx, dst, lo, hi)
	}
	key := src.key(p.idx)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	i, ok := c.index[key]
	if !ok {
		// Evicted or dropped since plan: fetch it (or join whoever does).
		fl := c.flights[key]
		if fl == nil {
			if err := ctx.Err(); err != nil {
				c.mu.Unlock()
				return err
			}
			fl = c.startLocked(src, p.idx, 1, 0, nil)
		}
		fl.refs.Add(1)
		c.mu.Unlock()
		return c.copyFlight(ctx, src, fl, p.idx, dst, lo, hi)
	}
	s := c.pinLocked(i)
	c.mu.Unlock()
	if c.testHookPinned != nil {
		c.testHookPinned(key)
	}
	// The pin keeps s.data from being zeroed or reused until unpin; s.n does not
	// change while the slot is cached.
	if int64(s.n) < hi {
		// The page and the size disagree: two Readers of one version were given
		// different sizes, one of them stale. Drop the page so that the error is
		// not sticky, as errors are not cached either.
		err := shortPage(src, p.idx, s.n, hi)
		c.unpin(i, true)
		return err
	}
	copy(dst, s.data[lo:hi])
	c.unpin(i, false)
	return nil
}

// copyFlight waits for fl and copies bytes [lo, hi) of its page idx into dst.
func (c *PageCache) copyFlight(ctx context.Context, src *source, fl *flight, idx int64, dst []byte, lo, hi int64) error {
	defer fl.release()
	c.missed()
	if err := fl.wait(ctx); err != nil {
		return err
	}
	page := fl.page(idx, c.pageSize)
	if int64(len(page)) < hi {
		return shortPage(src, idx, len(page), hi)
	}
	copy(dst, page[lo:hi])
	c.readAheadRead(fl.ra, idx-fl.first, len(page))
	return nil
}

func shortPage(src *source, idx int64, have int, need int64) error {
	return fmt.Errorf("cache: page %d of %q has %d bytes, need %d for object size %d: %w",
		idx, src.object, have, need, src.size, io.ErrUnexpectedEOF)
}
