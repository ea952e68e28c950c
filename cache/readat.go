package cache

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// maxParallelFetches bounds the page fetches one ReadAt has in flight: enough
// to hide S3 latency for a large read, few enough that one big read does not
// flood the bucket (or the cache: each page is pinned until copied).
const maxParallelFetches = 8

// ReadAt copies object bytes [off, off+len(dst)) into dst using pages of PageSize, calling pageFetch(index) to make the
// FetchFunc of a missing page; size is the object's size (reads are clipped to it). Returns bytes copied (short only at EOF)
// and the first error. Pages of one ReadAt that are missing are fetched concurrently (at most 8 at once).
//
// Details: a read that is short because it reaches size returns a nil error (like a FUSE read, unlike io.ReaderAt),
// and a read at or past size returns 0, nil. On error, n counts the bytes of dst before the first failed page, which
// are valid, and the error is that of the lowest failed page. pageFetch is called only for pages that are actually
// fetched, possibly from several goroutines at once, so it must be safe for concurrent use. A page shorter than the
// object size implies is reported as an error wrapping io.ErrUnexpectedEOF and dropped from the cache.
func (c *PageCache) ReadAt(ctx context.Context, object, version string, size int64, dst []byte, off int64, pageFetch func(index int64) FetchFunc) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cache: read of %q at negative offset %d", object, off)
	}
	if size < 0 {
		return 0, fmt.Errorf("cache: read of %q with negative size %d", object, size)
	}
	if off >= size || len(dst) == 0 {
		return 0, nil
	}
	// end = min(off+len(dst), size), written so that it cannot overflow.
	end := size
	if int64(len(dst)) < size-off {
		end = off + int64(len(dst))
	}
	ps := int64(c.pageSize)
	first, last := off/ps, (end-1)/ps

	copyPage := func(idx int64) error {
		key := PageKey{Object: object, Version: version, Index: idx}
		page, err := c.get(ctx, key, func() FetchFunc { return pageFetch(idx) })
		if err != nil {
			return err
		}
		pStart := idx * ps
		lo, hi := max(off, pStart), end
		if end-pStart > ps { // not pStart+ps < end: that could overflow near MaxInt64
			hi = pStart + ps
		}
		if int64(len(page)) < hi-pStart {
			// The page and the size disagree (size stale, or a bad fetch).
			// Drop the page so that the error is not sticky, as errors are
			// not cached either.
			c.drop(key)
			return fmt.Errorf("cache: page %d of %q has %d bytes, need %d for object size %d: %w",
				idx, object, len(page), hi-pStart, size, io.ErrUnexpectedEOF)
		}
		copy(dst[lo-off:hi-off], page[lo-pStart:hi-pStart])
		return nil
	}

	if first == last {
		// The common case (a read inside one page) needs no goroutine.
		if err := copyPage(first); err != nil {
			return 0, err
		}
		return int(end - off), nil
	}

	// Workers take page indexes in ascending order, so the start of the read
	// (which the caller needs first) is fetched first. Once a page has failed
	// no worker takes a new index: the result is cut at the first failed page
	// anyway. An index that was taken is always processed, so every page below
	// the lowest failed one has been copied when the workers are done.
	npages := last - first + 1
	errs := make([]error, npages)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(npages, maxParallelFetches) {
		wg.Go(func() {
			for !failed.Load() {
				i := next.Add(1) - 1
				if i >= npages {
					return
				}
				if err := copyPage(first + i); err != nil {
					errs[i] = err
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			n := max(int64(0), (first+int64(i))*ps-off)
			return int(n), err
		}
	}
	return int(end - off), nil
}
