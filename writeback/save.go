package writeback

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
)

const (
	// minPartCopy is S3's smallest part; untouched ranges at least this long are copied
	// server-side instead of sent again.
	minPartCopy = 5 << 20
	// maxParts is S3's limit of parts in one upload.
	maxParts = 10000
	// maxPart is S3's largest part.
	maxPart = 5 << 30
	// partsPerDoubling is how many parts of a stream have one size before it doubles.
	partsPerDoubling = 950
)

// Saved is the object a save made.
type Saved struct {
	ETag string
	Size int64
}

// ConflictError answers a save whose object another writer replaced (or created) since
// this file started from it: the content was saved beside it as SavedAs, or, when that
// failed too, not at all (SavedAs is "", Err says why).
type ConflictError struct {
	Key     string
	SavedAs string
	Err     error
}

func (e *ConflictError) Error() string {
	if e.SavedAs == "" {
		return fmt.Sprintf("another writer replaced %s since it was opened, and this version could not be saved beside it: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("another writer replaced %s since it was opened; this version was saved beside it as %s", e.Key, e.SavedAs)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// Save uploads the file's changes, if any, as its object, atomically: a single keyed
// PutObject for a small file, else a keyed multipart upload whose untouched ranges of the
// base are copied server-side (or the completion of the stream already under way).
// Nothing is visible until the last request succeeds; a failed multipart upload is
// aborted, and the object keeps its old version.
//
// Unless Config.OverwriteConcurrent, the save is conditional on the base: If-Match
// with the version the file started from, If-None-Match for a new file. When another
// writer got there first, the content is saved beside theirs as
// NAME.conflict-<UTC time> and Save returns a *ConflictError.
//
// It returns the object saved; Saved.ETag is "" when there was nothing to save.
func (f *File) Save(ctx context.Context) (Saved, error) {
	f.saveMu.Lock()
	defer f.saveMu.Unlock()
	dirty, gen := f.snapshot()
	if !dirty {
		return Saved{}, nil
	}
	f.mu.Lock()
	key, cond := f.key, f.conditionLocked()
	f.mu.Unlock()
	meta := f.meta()
	saved, err := f.saveAs(ctx, key, meta, cond)
	var metaErr *MetaError
	if errors.As(err, &metaErr) {
		f.setSaveFailed(true) // close is told, but the content is saved
		f.saved(saved.ETag, saved.Size, gen)
		return saved, err
	}
	if errors.Is(err, bucket.ErrChanged) && cond != (bucket.Condition{}) {
		f.setSaveFailed(true)
		return Saved{}, f.e.conflict(f.saveBeside(ctx, key, meta, gen, err))
	}
	if err != nil {
		f.setSaveFailed(true)
		f.mu.Lock()
		f.unstreamLocked() // if it can: the next save sends the file whole
		f.mu.Unlock()
		return Saved{}, err
	}
	f.setSaveFailed(false)
	f.saved(saved.ETag, saved.Size, gen)
	return saved, nil
}

// conditionLocked makes a save fail if another writer got there first. Called with
// f.mu held.
func (f *File) conditionLocked() bucket.Condition {
	switch {
	case f.e.cfg.OverwriteConcurrent:
		return bucket.Condition{}
	case f.baseETag == "":
		return bucket.Condition{IfNoneMatch: true}
	}
	return bucket.Condition{IfMatch: f.baseETag}
}

// saveBeside saves the content as a new object beside key, which another writer
// replaced: this version (change gen) is kept, if not where it was meant to go.
func (f *File) saveBeside(ctx context.Context, key string, meta map[string]string, gen uint64, cause error) error {
	conflict := key + ".conflict-" + time.Now().UTC().Format("20060102T150405.000Z")
	if _, err := f.saveAs(ctx, conflict, meta, bucket.Condition{IfNoneMatch: true}); err != nil {
		return &ConflictError{Key: key, Err: errors.Join(cause, err)}
	}
	f.mu.Lock()
	if f.gen == gen {
		f.dirty = false // else a change came meanwhile, which the copy beside may lack
	}
	f.mu.Unlock()
	return &ConflictError{Key: key, SavedAs: conflict, Err: cause}
}

// saveAs uploads the file as it is now as object key.
func (f *File) saveAs(ctx context.Context, key string, meta map[string]string, cond bucket.Condition) (Saved, error) {
	f.mu.Lock()
	if s := f.stream; s != nil && (key != s.key || s.metaStale) {
		// The stream cannot be completed as it is: give it up, to send the file whole,
		// if only its first part has left (once that is back).
		if s.floor == s.headPages && !s.headHome {
			f.mu.Unlock()
			<-s.headSent
			f.mu.Lock()
		}
		if !f.unstreamLocked() && key != s.key {
			f.mu.Unlock()
			return Saved{}, fmt.Errorf("%s was streamed to S3 while written; it cannot be saved under another name", s.key)
		}
	}
	size, s := f.size, f.stream
	var rest int64
	if s != nil {
		s.closing = true
		rest = s.floor * writePage
	}
	f.mu.Unlock()
	if s != nil {
		etag, err := s.complete(ctx, f, rest, size, cond)
		if err == nil && s.metaStale {
			// The upload began before the attributes were set: write them now.
			etag, err = f.fixMeta(ctx, key, etag, size, meta)
		}
		return Saved{etag, size}, err
	}
	if size <= f.e.cfg.PartSize {
		body := make([]byte, size)
		if _, err := f.ReadAt(ctx, body, 0); err != nil {
			return Saved{}, err
		}
		etag, err := f.e.store.Put(ctx, key, body, meta, cond)
		return Saved{etag, size}, err
	}
	etag, err := f.saveMultipart(ctx, key, size, meta, cond)
	return Saved{etag, size}, err
}

// fixMeta replaces the metadata of version etag of key, just saved, with meta, by a
// copy of the object onto itself. If that fails, the content is saved all the same:
// the error says the attributes are not, and Saved still names the version.
func (f *File) fixMeta(ctx context.Context, key, etag string, size int64, meta map[string]string) (string, error) {
	fixed, err := f.e.store.Copy(ctx, key, etag, size, key, meta, bucket.Condition{IfMatch: etag})
	if err != nil {
		return etag, &MetaError{Key: key, Err: err}
	}
	return fixed, nil
}

// MetaError answers a save whose content reached S3 but whose attributes (set while it
// streamed) could not be written after it.
type MetaError struct {
	Key string
	Err error
}

func (e *MetaError) Error() string {
	return fmt.Sprintf("%s was saved, but its attributes could not be: %v", e.Key, e.Err)
}

func (e *MetaError) Unwrap() error { return e.Err }

// partSize is the part size for an object of size bytes: the configured one, or larger
// when the object would need more than S3's 10,000 parts.
func (f *File) partSize(size int64) int64 {
	ps := f.e.cfg.PartSize
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = (need + writePage - 1) / writePage * writePage
	}
	return ps
}

func (f *File) saveMultipart(ctx context.Context, key string, size int64, meta map[string]string, cond bucket.Condition) (string, error) {
	up, err := f.e.store.StartUpload(ctx, key, meta)
	if err != nil {
		return "", err
	}
	ps := f.partSize(size)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for n, from := int32(1), int64(0); from < size; n, from = n+1, from+ps {
		to := min(from+ps, size)
		f.mu.Lock()
		copyable := to <= f.baseLen && !f.anyPage(from, to) && to-from >= minPartCopy
		src, etag := f.key, f.baseETag
		f.mu.Unlock()
		done := f.e.slot()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			var err error
			if copyable {
				err = up.CopyPart(ctx, n, src, etag, from, to-from)
			} else {
				err = up.PutPartFrom(ctx, n, f.rangeReader(ctx, from, to), to-from)
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

// partRange is part n of an upload: bytes [from, to) of the file.
type partRange struct {
	n        int32
	from, to int64
}

// appendParts appends to parts the parts of bytes [from, size) numbered from first,
// each of the stream's size for its number (the last may be shorter).
func (e *Engine) appendParts(parts []partRange, from, size int64, first int32) []partRange {
	for off, n := from, first; off < size; n++ {
		to := min(off+e.streamPartPages(n)*writePage, size)
		parts = append(parts, partRange{n, off, to})
		off = to
	}
	return parts
}

// sendParts uploads parts of the file, each read as it is sent, within the upload
// slots.
func (f *File) sendParts(ctx context.Context, up Upload, parts []partRange) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, p := range parts {
		done := f.e.slot()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			if err := up.PutPartFrom(ctx, p.n, f.rangeReader(ctx, p.from, p.to), p.to-p.from); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}
