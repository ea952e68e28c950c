package writeback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
)

// writePage is the unit of unsaved data in memory.
const writePage = 1 << 20

// MaxObjectSize is S3's largest object (5 TiB): a file cannot grow past it.
const MaxObjectSize = 5 << 40

var (
	// ErrTooLarge answers a write or truncate past S3's largest object.
	ErrTooLarge = fmt.Errorf("S3 objects are at most 5 TiB: %w", syscall.EFBIG)
	// errBehindStream answers a write into a range already streamed to S3: a
	// sequential upload cannot take it back before the file is closed.
	errBehindStream = errors.New("write into a part of the file already uploaded while streaming; only writes past it are possible until close")
)

// StreamedRange answers a read of a range already streamed to S3, where it is not
// readable until the upload completes: the reader waits for Done (the save, or the end
// of the stream), then reads again.
type StreamedRange struct{ Done <-chan struct{} }

func (StreamedRange) Error() string {
	return "read of a part of the file already uploaded while it is being written; readable once the writer closes it"
}

// File is the shared view of a file being written: the object version it started from
// (its base) and the pages written since. Every handle of the file reads through it, so
// a read after a write sees the write. Pages live in memory within the engine's write
// budget, sealed in the spill file when memory is short, or on their way to S3 in a
// stream.
//
// Lock order: File.saveMu, Engine.mu, File.mu, then the budget's and the spill file's
// mutexes (leaves). File.mu is never held while waiting for budget or the network, and
// the caller's own locks (a FUSE node's) are never held while calling a File method.
type File struct {
	e    *Engine
	meta func() map[string]string // the object's metadata, asked for at each save and stream

	saveMu sync.Mutex // one save at a time

	mu       sync.Mutex
	key      string // the object; Moved changes it
	baseETag string // "" when there is no object yet
	baseSize int64  // the base object's size
	baseLen  int64  // bytes of the base still part of the file (truncation shortens it)
	base     Base   // reader of the base version, made on first use; nil after a change of base
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

// Open starts the unsaved content of key, based on version etag (size bytes; "" when
// the object does not exist yet). meta gives the object's metadata when it is saved.
// Drop it when no handle needs it any more.
func (e *Engine) Open(key, etag string, size int64, meta func() map[string]string) *File {
	f := &File{e: e, meta: meta, key: key, baseETag: etag, baseSize: size, baseLen: size, size: size,
		pages: make(map[int64][]byte), spilled: make(map[int64]int64)}
	e.register(f)
	return f
}

// Key is the object the file is saved as.
func (f *File) Key() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.key
}

// Size is the file's size now.
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}

// ReadAt reads the file as it is now: written pages, else the base, else zeros. It is
// short only at the file's end. A range already streamed to S3 answers StreamedRange.
func (f *File) ReadAt(ctx context.Context, dst []byte, off int64) (int, error) {
	f.mu.Lock()
	if off >= f.size {
		f.mu.Unlock()
		return 0, nil
	}
	end := min(off+int64(len(dst)), f.size)
	dst = dst[:end-off]
	type span struct{ from, to int64 }
	var fromBase []span
	for pos := off; pos < end; {
		idx := pos / writePage
		pageEnd := min((idx+1)*writePage, end)
		out := dst[pos-off : pageEnd-off]
		if p, ok := f.pages[idx]; ok {
			copy(out, p[pos-idx*writePage:])
		} else if slot, ok := f.spilled[idx]; ok {
			p := make([]byte, writePage)
			if err := f.e.spill.get(slot, p); err != nil {
				f.mu.Unlock()
				return 0, err
			}
			copy(out, p[pos-idx*writePage:])
		} else if f.stream.streamed(idx) {
			done := f.stream.wait(idx)
			f.mu.Unlock()
			return 0, StreamedRange{done}
		} else {
			clear(out)
			if pos < f.baseLen {
				fromBase = append(fromBase, span{pos, min(pageEnd, f.baseLen)})
			}
		}
		pos = pageEnd
	}
	var base Base
	if len(fromBase) > 0 {
		base = f.baseLocked()
	}
	f.mu.Unlock()
	for _, s := range fromBase {
		if err := readBase(ctx, base, dst[s.from-off:s.to-off], s.from); err != nil {
			return 0, err
		}
	}
	return len(dst), nil
}

// baseLocked returns the reader of the base version, made on first use. Called with
// f.mu held, and only while there is a base.
func (f *File) baseLocked() Base {
	if f.base == nil {
		f.base = f.e.openBase(f.key, f.baseETag, f.baseSize)
	}
	return f.base
}

// setBaseLocked makes version etag of key (size bytes) the base. Called with f.mu held.
func (f *File) setBaseLocked(key, etag string, size int64) {
	if f.base != nil && (key != f.key || etag != f.baseETag || size != f.baseSize) {
		f.base.Close() // a read in flight on it still completes
		f.base = nil
	}
	f.key, f.baseETag, f.baseSize = key, etag, size
}

// readBase fills dst from the base at off; the bytes are part of the base (below
// baseLen), so a short read means the version is not what the listing said.
func readBase(ctx context.Context, base Base, dst []byte, off int64) error {
	n, err := base.ReadAt(ctx, dst, off)
	if err == nil && n < len(dst) {
		err = fmt.Errorf("the object version this file was opened at ends at %d, before %d: %w", off+int64(n), off+int64(len(dst)), io.ErrUnexpectedEOF)
	}
	return err
}

// Write puts data at off, allocating pages within the write budget (waiting for it, or
// errNoBuffer). Pages that the write covers only in part are first filled from the base,
// so they hold the whole truth.
func (f *File) Write(ctx context.Context, data []byte, off int64) error {
	if len(data) == 0 {
		return nil
	}
	return f.write(ctx, data, off)
}

// write is Write; with no data, it only reads the base of a small file into pages.
func (f *File) write(ctx context.Context, data []byte, off int64) error {
	end := off + int64(len(data))
	if end > MaxObjectSize {
		return ErrTooLarge
	}
	first, last := off/writePage, (end-1)/writePage
	if len(data) == 0 {
		first, last = 0, -1
	}

	f.mu.Lock()
	gen := f.gen
	scan, baseLast := first, int64(-1)
	if f.baseLen > 0 && f.baseSize <= f.e.cfg.PartSize {
		// A small file is sent whole at save: read all of its base now, while that
		// version still exists. If another writer replaces it before close, the
		// edited version can then still be saved beside theirs, whole.
		scan, baseLast = 0, (f.baseLen-1)/writePage
	}
	var missing []int64
	for idx := scan; idx <= max(last, baseLast); idx++ {
		if idx > baseLast && idx < first {
			idx = first - 1 // a hole between the base and the write: no pages
			continue
		}
		if _, ok := f.pages[idx]; ok {
			continue
		}
		if s := f.stream; s.streamed(idx) {
			f.mu.Unlock()
			if idx >= s.headPages {
				return errBehindStream
			}
			select { // the first part comes back once sent: write into it then
			case <-s.headSent:
				return f.write(ctx, data, off)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		missing = append(missing, idx)
	}
	baseLen := f.baseLen
	var base Base
	if baseLen > 0 {
		base = f.baseLocked()
	}
	spilled := make(map[int64]int64)
	for _, idx := range missing {
		if slot, ok := f.spilled[idx]; ok {
			spilled[idx] = slot
		}
	}
	f.mu.Unlock()

	// Allocate and fill outside the lock: waiting for budget or for the base must not
	// stop readers and uploads of this file.
	fresh := make(map[int64][]byte, len(missing))
	for _, idx := range missing {
		p, err := f.e.budget.getPage()
		if err != nil {
			f.releasePages(fresh)
			return err
		}
		fresh[idx] = p
		if slot, ok := spilled[idx]; ok {
			if err := f.e.spill.get(slot, p); err != nil {
				f.releasePages(fresh)
				return err
			}
			continue
		}
		from, to := idx*writePage, min((idx+1)*writePage, baseLen)
		if from < to && (off > from || end < to || idx < first || idx > last) {
			if err := readBase(ctx, base, p[:to-from], from); err != nil {
				f.releasePages(fresh)
				return err
			}
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	for idx, p := range fresh {
		if _, ok := f.pages[idx]; ok {
			f.e.budget.putPage(p) // another writer got there first
			continue
		}
		if slot, ok := f.spilled[idx]; ok {
			if read, had := spilled[idx]; !had || slot != read || f.gen != gen {
				// Written and sealed again while we read it (into the slot we read,
				// maybe, as slots are reused): read the newer copy.
				if err := f.e.spill.get(slot, p); err != nil {
					f.e.budget.putPage(p)
					return err
				}
			}
			delete(f.spilled, idx)
			f.e.spill.release(slot)
		}
		f.pages[idx] = p
	}
	if f.baseLen > 0 && f.baseSize <= f.e.cfg.PartSize {
		f.baseLen = 0 // all of the base is in the pages now
	}
	for pos := off; pos < end; {
		idx := pos / writePage
		p, err := f.pageLocked(idx)
		if err != nil {
			return err
		}
		n := copy(p[pos-idx*writePage:], data[pos-off:])
		pos += int64(n)
	}
	if len(data) == 0 {
		return nil
	}
	if s := f.stream; s != nil && s.headHome && off < s.headPages*writePage {
		s.headDirty = true
	}
	f.size = max(f.size, end)
	f.dirty = true
	f.gen++
	f.streamReadyParts()
	return nil
}

// Truncate sets the file's size. Bytes past a shrink read as zeros if the file grows
// again, so the base is cut and the boundary page cleared beyond the new end.
func (f *File) Truncate(size int64) error {
	if size > MaxObjectSize {
		return ErrTooLarge
	}
	f.mu.Lock()
	small := f.baseLen > 0 && f.baseSize <= f.e.cfg.PartSize
	f.mu.Unlock()
	if small && size > 0 {
		// Read the base of a small file now, as a write does, so that it can be
		// saved beside whole if another writer replaces it (not needed when nothing
		// of it stays).
		if err := f.write(context.Background(), nil, 0); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.stream; s != nil && size < s.floor*writePage && !f.unstreamLocked() {
		if s.floor != s.headPages {
			return errBehindStream
		}
		// Only the first part has left: once it is back, the file can give up
		// streaming, to be cut and saved whole.
		f.mu.Unlock()
		<-s.headSent
		f.mu.Lock()
		if f.stream == s && !f.unstreamLocked() {
			return errBehindStream // more parts left meanwhile
		}
	}
	if size < f.size {
		for idx, p := range f.pages {
			switch start := idx * writePage; {
			case start >= size:
				delete(f.pages, idx)
				f.e.budget.putPage(p)
			case start+writePage > size:
				clear(p[size-start:])
			}
		}
		for idx, slot := range f.spilled {
			switch start := idx * writePage; {
			case start >= size:
				delete(f.spilled, idx)
				f.e.spill.release(slot)
			case start+writePage > size:
				// Bring the boundary page back to clear its tail.
				p := f.e.budget.getPageNow()
				if err := f.e.spill.get(slot, p); err != nil {
					f.e.budget.putPage(p)
					return err
				}
				clear(p[size-start:])
				f.pages[idx] = p
				delete(f.spilled, idx)
				f.e.spill.release(slot)
			}
		}
		f.baseLen = min(f.baseLen, size)
	}
	if size != f.size {
		f.size = size
		f.dirty = true
		f.gen++
	}
	return nil
}

func (f *File) releasePages(pages map[int64][]byte) {
	for _, p := range pages {
		f.e.budget.putPage(p)
	}
}

func (f *File) releaseSpilled() {
	for _, slot := range f.spilled {
		f.e.spill.release(slot)
	}
	f.spilled = make(map[int64]int64)
}

// spillPages seals up to n of this file's pages into the spill file to free memory for
// other writes, and returns how many it moved. Of a streaming file, unless all, only
// the pages that cannot leave memory by upload before the save are sealed (see
// unstreamableLocked).
func (f *File) spillPages(n int, all bool) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	floor, from := f.streamableLocked(all)
	moved := 0
	for idx, p := range f.pages {
		if moved == n {
			break
		}
		if floor <= idx && idx < from {
			continue
		}
		slot, err := f.e.spill.put(p)
		if err != nil {
			return moved, err
		}
		f.spilled[idx] = slot
		delete(f.pages, idx)
		f.e.budget.putPage(p)
		moved++
	}
	return moved, nil
}

// pageLocked returns page idx in memory, bringing it back from the spill file if it was
// sealed there meanwhile. Called with f.mu held.
func (f *File) pageLocked(idx int64) ([]byte, error) {
	if p, ok := f.pages[idx]; ok {
		return p, nil
	}
	slot, ok := f.spilled[idx]
	if !ok {
		return nil, errBehindStream // streamed away while we were allocating
	}
	p := f.e.budget.getPageNow()
	if err := f.e.spill.get(slot, p); err != nil {
		f.e.budget.putPage(p)
		return nil, err
	}
	delete(f.spilled, idx)
	f.e.spill.release(slot)
	f.pages[idx] = p
	return p, nil
}

// memoryPages is how many pages the file holds in memory that may be sealed (all: how
// many it holds).
func (f *File) memoryPages(all bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	floor, from := f.streamableLocked(all)
	if from == floor {
		return len(f.pages)
	}
	n := 0
	for idx := range f.pages {
		if idx < floor || idx >= from {
			n++
		}
	}
	return n
}

// streamableLocked is the range of pages [floor, from) that are to leave memory by
// upload before the save, and so are not to be sealed unless all (see
// unstreamableLocked); pages below the stream's floor are its first part, back from
// S3, and may be sealed. Called with f.mu held.
func (f *File) streamableLocked(all bool) (floor, from int64) {
	if all || f.stream == nil || f.stream.closing {
		return 0, 0
	}
	return f.stream.floor, f.unstreamableLocked()
}

// unstreamableLocked is the first page that cannot leave memory by upload before the
// save: 0 when the file does not stream (or its save began); else the first page from
// the stream's floor not written, since the pages past a hole cannot join a part until
// it is filled (a writer that leaves holes, as cp --sparse does, would otherwise hold
// the whole buffer until its close). Called with f.mu held.
func (f *File) unstreamableLocked() int64 {
	s := f.stream
	if s == nil || s.closing {
		return 0
	}
	idx := s.floor
	for {
		_, inMemory := f.pages[idx]
		_, sealed := f.spilled[idx]
		if !inMemory && !sealed {
			return idx
		}
		idx++
	}
}

// Drop frees every page and aborts a stream in progress: the content is no longer used.
func (f *File) Drop() {
	f.mu.Lock()
	f.releasePages(f.pages)
	f.pages = make(map[int64][]byte)
	f.releaseSpilled()
	if f.stream != nil {
		f.stream.abandon()
		f.stream = nil
	}
	if f.base != nil {
		f.base.Close()
		f.base = nil
	}
	f.mu.Unlock()
	f.e.unregister(f)
}

// anyPage reports whether a page in [from, to) has been written.
func (f *File) anyPage(from, to int64) bool {
	for idx := from / writePage; idx*writePage < to; idx++ {
		if _, ok := f.pages[idx]; ok {
			return true
		}
		if _, ok := f.spilled[idx]; ok {
			return true
		}
	}
	return false
}

// Dirty reports whether the file has changes not yet saved.
func (f *File) Dirty() bool {
	dirty, _ := f.snapshot()
	return dirty
}

// snapshot says whether there is anything to save, and which change it would save.
func (f *File) snapshot() (dirty bool, gen uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dirty, f.gen
}

// saved makes the just-saved object the new base. If nothing changed while saving, the
// pages are no longer needed: the object holds them.
func (f *File) saved(etag string, size int64, gen uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setBaseLocked(f.key, etag, size)
	f.baseLen = size
	if f.stream != nil {
		f.stream.finish()
		f.stream = nil
	}
	if f.gen == gen {
		f.dirty = false
		f.releasePages(f.pages)
		f.pages = make(map[int64][]byte)
		f.releaseSpilled()
	}
}

func (f *File) setSaveFailed(failed bool) {
	f.mu.Lock()
	f.failed = failed
	f.mu.Unlock()
}

// SaveFailed reports whether the latest save failed (and close or fsync said so).
func (f *File) SaveFailed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// KeepForReads stops streaming parts away from now on: the file is open for reading too.
func (f *File) KeepForReads() {
	f.mu.Lock()
	f.keep = true
	f.mu.Unlock()
}

// MarkDirty makes a save necessary even if no byte changed (a new empty file).
func (f *File) MarkDirty() {
	f.mu.Lock()
	f.dirty = true
	f.gen++
	f.mu.Unlock()
}

// Moved records that the object was renamed to key, where its version is now etag
// (the copy's; "" if unknown, which keeps the one it had): the base follows it, and so
// does the next save.
func (f *File) Moved(key, etag string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if etag == "" {
		etag = f.baseETag
	}
	f.setBaseLocked(key, etag, f.baseSize)
}

// Rebased records that the base version from was replaced by to, the same bytes with
// new metadata (an attribute change saved by a self-copy). A base that is not from is
// left alone: the file started from another version.
func (f *File) Rebased(from, to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.baseETag == from && from != "" {
		f.setBaseLocked(f.key, to, f.baseSize)
	}
}
