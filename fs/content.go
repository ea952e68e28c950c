package fs

import (
	"context"
	"errors"
	"sync"
)

// writePage is the unit of unsaved data in memory.
const writePage = 1 << 20

// errBehindStream answers a write into a range already streamed to S3: a sequential
// upload cannot take it back before the file is closed.
var errBehindStream = errors.New("write into a part of the file already uploaded while streaming; only writes past it are possible until close")

// streamedRange answers a read of a range already streamed to S3, where it is not
// readable until the upload completes: the reader waits for done (the save, or the end of
// the stream), then reads again.
type streamedRange struct{ done <-chan struct{} }

func (streamedRange) Error() string {
	return "read of a part of the file already uploaded while it is being written; readable once the writer closes it"
}

// content is the shared view of a file being written: the object version it started
// from (its base) and the pages written since. Every handle of the file reads through
// it, so a read after a write sees the write. Pages live in memory only, within the
// mount's write budget.
type content struct {
	fsys *FS
	node *fileNode
	key  string

	mu       sync.Mutex
	baseETag string // "" when there is no object yet
	baseSize int64  // the base object's size
	baseLen  int64  // bytes of the base still part of the file (truncation shortens it)
	size     int64
	pages    map[int64][]byte
	spilled  map[int64]int64 // pages sealed in the spill file: index -> slot
	dirty    bool
	gen      uint64  // counts changes, so a save knows whether it saved the latest
	stream   *stream // parts already on their way, for a file written sequentially
	// failed is set when the latest save failed (close or fsync was told so).
	failed bool
	// keep is set once anyone may read the file while it is written (an O_RDWR open,
	// or any read): then no more parts leave memory before the save, since a part that
	// is streamed cannot be read back until the upload completes. Memory stays bounded
	// by spilling instead.
	keep bool
}

func newContent(n *fileNode, key, etag string, size int64) *content {
	c := &content{fsys: n.fsys, node: n, key: key, baseETag: etag, baseSize: size, baseLen: size, size: size,
		pages: make(map[int64][]byte), spilled: make(map[int64]int64)}
	n.fsys.register(c)
	return c
}

// readAt reads the file as it is now: written pages, else the base, else zeros.
func (c *content) readAt(ctx context.Context, dst []byte, off int64) (int, error) {
	c.mu.Lock()
	if off >= c.size {
		c.mu.Unlock()
		return 0, nil
	}
	end := min(off+int64(len(dst)), c.size)
	dst = dst[:end-off]
	type span struct{ from, to int64 }
	var fromBase []span
	for pos := off; pos < end; {
		idx := pos / writePage
		pageEnd := min((idx+1)*writePage, end)
		out := dst[pos-off : pageEnd-off]
		if p, ok := c.pages[idx]; ok {
			copy(out, p[pos-idx*writePage:])
		} else if slot, ok := c.spilled[idx]; ok {
			p := make([]byte, writePage)
			if err := c.fsys.spill.get(slot, p); err != nil {
				c.mu.Unlock()
				return 0, err
			}
			copy(out, p[pos-idx*writePage:])
		} else if c.stream != nil && idx < c.stream.floor {
			done := c.stream.done
			c.mu.Unlock()
			return 0, streamedRange{done}
		} else {
			clear(out)
			if pos < c.baseLen {
				fromBase = append(fromBase, span{pos, min(pageEnd, c.baseLen)})
			}
		}
		pos = pageEnd
	}
	etag, baseSize := c.baseETag, c.baseSize
	c.mu.Unlock()
	for _, s := range fromBase {
		if err := c.readBase(ctx, etag, baseSize, dst[s.from-off:s.to-off], s.from); err != nil {
			return 0, err
		}
	}
	return len(dst), nil
}

func (c *content) readBase(ctx context.Context, etag string, size int64, dst []byte, off int64) error {
	key := c.key
	r := c.fsys.pages.NewReader(key, etag, size, func(ctx context.Context, off, length int64) ([]byte, error) {
		return c.fsys.store.ReadRange(ctx, key, etag, off, length)
	})
	defer r.Close()
	_, err := r.ReadAt(ctx, dst, off)
	return err
}

// write puts data at off, allocating pages within the write budget. Pages that the write
// covers only in part are first filled from the base, so they hold the whole truth.
func (c *content) write(ctx context.Context, data []byte, off int64) error {
	if len(data) == 0 {
		return nil
	}
	end := off + int64(len(data))
	if end > maxObjectSize {
		return errTooLarge
	}
	first, last := off/writePage, (end-1)/writePage

	c.mu.Lock()
	if c.baseLen > 0 && c.baseSize <= c.fsys.opts.PartSize {
		// A small file is sent whole at save: read all of its base now, while that
		// version still exists. If another writer replaces it before close, the
		// edited version can then still be saved beside theirs, whole.
		first, last = 0, max(last, (c.baseLen-1)/writePage)
	}
	var missing []int64
	for idx := first; idx <= last; idx++ {
		if _, ok := c.pages[idx]; ok {
			continue
		}
		if c.stream != nil && idx < c.stream.floor {
			c.mu.Unlock()
			return errBehindStream
		}
		missing = append(missing, idx)
	}
	etag, baseSize, baseLen := c.baseETag, c.baseSize, c.baseLen
	spilled := make(map[int64]int64)
	for _, idx := range missing {
		if slot, ok := c.spilled[idx]; ok {
			spilled[idx] = slot
		}
	}
	c.mu.Unlock()

	// Allocate and fill outside the lock: waiting for budget or for the base must not
	// stop readers and uploads of this file.
	fresh := make(map[int64][]byte, len(missing))
	for _, idx := range missing {
		p, err := c.fsys.budget.getPage()
		if err != nil {
			c.releasePages(fresh)
			return err
		}
		fresh[idx] = p
		if slot, ok := spilled[idx]; ok {
			if err := c.fsys.spill.get(slot, p); err != nil {
				c.releasePages(fresh)
				return err
			}
			continue
		}
		from, to := idx*writePage, min((idx+1)*writePage, baseLen)
		if from < to && (off > from || end < to || idx < off/writePage || idx > (end-1)/writePage) {
			if err := c.readBase(ctx, etag, baseSize, p[:to-from], from); err != nil {
				c.releasePages(fresh)
				return err
			}
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for idx, p := range fresh {
		if _, ok := c.pages[idx]; ok {
			c.fsys.budget.putPage(p) // another writer got there first
			continue
		}
		if slot, ok := c.spilled[idx]; ok {
			if slot != spilled[idx] {
				// Spilled again while we read it: read the newer copy.
				if err := c.fsys.spill.get(slot, p); err != nil {
					c.fsys.budget.putPage(p)
					return err
				}
			}
			delete(c.spilled, idx)
			c.fsys.spill.release(slot)
		}
		c.pages[idx] = p
	}
	if c.baseLen > 0 && c.baseSize <= c.fsys.opts.PartSize {
		c.baseLen = 0 // all of the base is in the pages now
	}
	for pos := off; pos < end; {
		idx := pos / writePage
		p, err := c.pageLocked(idx)
		if err != nil {
			return err
		}
		n := copy(p[pos-idx*writePage:], data[pos-off:])
		pos += int64(n)
	}
	c.size = max(c.size, end)
	c.dirty = true
	c.gen++
	c.streamReadyParts()
	return nil
}

// truncate sets the file's size. Bytes past a shrink read as zeros if the file grows
// again, so the base is cut and the boundary page cleared beyond the new end.
func (c *content) truncate(size int64) error {
	if size > maxObjectSize {
		return errTooLarge
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != nil && size < c.stream.floor*writePage {
		return errBehindStream
	}
	if size < c.size {
		for idx, p := range c.pages {
			switch start := idx * writePage; {
			case start >= size:
				delete(c.pages, idx)
				c.fsys.budget.putPage(p)
			case start+writePage > size:
				clear(p[size-start:])
			}
		}
		for idx, slot := range c.spilled {
			switch start := idx * writePage; {
			case start >= size:
				delete(c.spilled, idx)
				c.fsys.spill.release(slot)
			case start+writePage > size:
				// Bring the boundary page back to clear its tail.
				p := c.fsys.budget.getPageNow()
				if err := c.fsys.spill.get(slot, p); err != nil {
					c.fsys.budget.putPage(p)
					return err
				}
				clear(p[size-start:])
				c.pages[idx] = p
				delete(c.spilled, idx)
				c.fsys.spill.release(slot)
			}
		}
		c.baseLen = min(c.baseLen, size)
	}
	if size != c.size {
		c.size = size
		c.dirty = true
		c.gen++
	}
	return nil
}

func (c *content) releasePages(pages map[int64][]byte) {
	for _, p := range pages {
		c.fsys.budget.putPage(p)
	}
}

func (c *content) releaseSpilled() {
	for _, slot := range c.spilled {
		c.fsys.spill.release(slot)
	}
	c.spilled = make(map[int64]int64)
}

// spillPages seals up to n of this file's pages into the spill file to free memory for
// other writes, and returns how many it moved. A streaming file is skipped: its pages
// leave memory by being uploaded.
func (c *content) spillPages(n int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != nil {
		return 0, nil
	}
	moved := 0
	for idx, p := range c.pages {
		if moved == n {
			break
		}
		slot, err := c.fsys.spill.put(p)
		if err != nil {
			return moved, err
		}
		c.spilled[idx] = slot
		delete(c.pages, idx)
		c.fsys.budget.putPage(p)
		moved++
	}
	return moved, nil
}

// pageLocked returns page idx in memory, bringing it back from the spill file if it was
// sealed there meanwhile. Called with c.mu held.
func (c *content) pageLocked(idx int64) ([]byte, error) {
	if p, ok := c.pages[idx]; ok {
		return p, nil
	}
	slot, ok := c.spilled[idx]
	if !ok {
		return nil, errBehindStream // streamed away while we were allocating
	}
	p := c.fsys.budget.getPageNow()
	if err := c.fsys.spill.get(slot, p); err != nil {
		c.fsys.budget.putPage(p)
		return nil, err
	}
	delete(c.spilled, idx)
	c.fsys.spill.release(slot)
	c.pages[idx] = p
	return p, nil
}

// memoryPages is how many pages the file holds in memory.
func (c *content) memoryPages() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != nil {
		return 0
	}
	return len(c.pages)
}

// drop frees every page; the content is no longer used.
func (c *content) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releasePages(c.pages)
	c.pages = make(map[int64][]byte)
	c.releaseSpilled()
	if c.stream != nil {
		c.stream.abandon()
		c.stream = nil
	}
	c.fsys.unregister(c)
}

// anyPage reports whether a page in [from, to) has been written.
func (c *content) anyPage(from, to int64) bool {
	for idx := from / writePage; idx*writePage < to; idx++ {
		if _, ok := c.pages[idx]; ok {
			return true
		}
		if _, ok := c.spilled[idx]; ok {
			return true
		}
	}
	return false
}

// snapshot says whether there is anything to save, and which change it would save.
func (c *content) snapshot() (dirty bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dirty, c.gen
}

// saved makes the just-saved object the new base. If nothing changed while saving, the
// pages are no longer needed: the object holds them.
func (c *content) saved(etag string, size int64, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.baseETag, c.baseSize, c.baseLen = etag, size, size
	if c.stream != nil {
		c.stream.finish()
		c.stream = nil
	}
	if c.gen == gen {
		c.dirty = false
		c.releasePages(c.pages)
		c.pages = make(map[int64][]byte)
		c.releaseSpilled()
	}
}

func (c *content) setSaveFailed(failed bool) {
	c.mu.Lock()
	c.failed = failed
	c.mu.Unlock()
}

func (c *content) saveFailed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// keepForReads stops streaming parts away from now on: the file is open for reading too.
func (c *content) keepForReads() {
	c.mu.Lock()
	c.keep = true
	c.mu.Unlock()
}

// markDirty makes a save necessary even if no byte changed (a new empty file).
func (c *content) markDirty() {
	c.mu.Lock()
	c.dirty = true
	c.gen++
	c.mu.Unlock()
}
