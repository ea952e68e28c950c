package fs

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/ssecfs/ssecfs/bucket"
)

const (
	// minPartCopy is S3's smallest part; untouched ranges at least this long are copied
	// server-side instead of sent again.
	minPartCopy = 5 << 20
	// maxParts is S3's limit of parts in one upload.
	maxParts = 10000
	// maxObjectSize is S3's largest object (5 TiB): a file cannot grow past it.
	maxObjectSize = 5 << 40
)

// errTooLarge answers a write or truncate past S3's largest object.
var errTooLarge = fmt.Errorf("S3 objects are at most 5 TiB: %w", syscall.EFBIG)

// save uploads the content as object key, atomically: a single keyed PutObject for a
// small file, else a keyed multipart upload whose untouched ranges of the base are
// copied server-side. Nothing is visible until the last request succeeds; a failed
// multipart upload is aborted. It returns the new ETag and the size saved.
func (c *content) save(ctx context.Context, key string, meta map[string]string, cond bucket.Condition) (string, int64, error) {
	c.mu.Lock()
	size, s := c.size, c.stream
	c.mu.Unlock()
	if s != nil {
		if key != c.key {
			return "", 0, fmt.Errorf("%s was streamed to S3 while written; it cannot be saved under another name", c.key)
		}
		etag, err := c.finishStream(ctx, s, size, cond)
		return etag, size, err
	}
	if size <= c.fsys.opts.PartSize {
		body, err := c.assemble(ctx, 0, size)
		if err != nil {
			return "", 0, err
		}
		etag, err := c.fsys.store.Put(ctx, key, body, meta, cond)
		return etag, size, err
	}
	etag, err := c.saveMultipart(ctx, key, size, meta, cond)
	return etag, size, err
}

// assemble reads [from, to) of the file as it is now into one buffer.
func (c *content) assemble(ctx context.Context, from, to int64) ([]byte, error) {
	buf := make([]byte, to-from)
	if _, err := c.readAt(ctx, buf, from); err != nil {
		return nil, err
	}
	return buf, nil
}

func (c *content) partSize(size int64) int64 {
	ps := c.fsys.opts.PartSize
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = (need + writePage - 1) / writePage * writePage
	}
	return ps
}

func (c *content) saveMultipart(ctx context.Context, key string, size int64, meta map[string]string, cond bucket.Condition) (string, error) {
	up, err := c.fsys.store.StartUpload(ctx, key, meta)
	if err != nil {
		return "", err
	}
	ps := c.partSize(size)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for n, from := int32(1), int64(0); from < size; n, from = n+1, from+ps {
		to := min(from+ps, size)
		c.mu.Lock()
		copyable := to <= c.baseLen && !c.anyPage(from, to) && to-from >= minPartCopy
		etag := c.baseETag
		c.mu.Unlock()
		c.fsys.uploadSlots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-c.fsys.uploadSlots }()
			var err error
			if copyable {
				err = up.CopyPart(ctx, n, c.key, etag, from, to-from)
			} else {
				err = up.PutPartFrom(ctx, n, c.rangeReader(ctx, from, to), to-from)
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		up.Abort()
		return "", firstErr
	}
	etag, err := up.Complete(ctx, cond)
	if err != nil {
		up.Abort()
	}
	return etag, err
}

// finishStream sends what is left after the streamed parts, waits for all parts and
// completes the upload.
func (c *content) finishStream(ctx context.Context, s *stream, size int64, cond bucket.Condition) (string, error) {
	ps := c.fsys.opts.PartSize
	c.mu.Lock()
	floor := s.floor
	for from := floor * writePage; from < size; from += ps {
		to := min(from+ps, size)
		var pages [][]byte
		for idx := from / writePage; idx*writePage < to; idx++ {
			p, ok := c.pages[idx]
			if !ok {
				p = c.fsys.budget.getPageNow() // a hole reads as zeros
				if slot, spilled := c.spilled[idx]; spilled {
					if err := c.fsys.spill.get(slot, p); err != nil {
						s.fail(err)
					}
					delete(c.spilled, idx)
					c.fsys.spill.release(slot)
				}
			}
			delete(c.pages, idx)
			pages = append(pages, p)
		}
		// The last part is cut to the file's size.
		if excess := int64(len(pages))*writePage - (to - from); excess > 0 {
			last := pages[len(pages)-1]
			pages[len(pages)-1] = last[:int64(len(last))-excess]
		}
		s.floor = (to + writePage - 1) / writePage
		s.send(int32(from/ps)+1, pages)
	}
	c.mu.Unlock()
	s.wg.Wait()
	up, err := s.upload()
	if err == nil {
		err = s.err()
	}
	if err != nil {
		if up != nil {
			up.Abort()
		}
		return "", err
	}
	etag, err := up.Complete(ctx, cond)
	if err != nil {
		up.Abort()
	}
	return etag, err
}
