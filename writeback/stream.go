package writeback

import (
	"context"
	"sync"

	"github.com/ssecfs/ssecfs/bucket"
)

// stream uploads the parts of a file written front to back while it is being written,
// so a file larger than memory passes through a bounded buffer. The parts go to the
// object's own multipart upload, invisible until it completes at close. Its floor moves
// only here, under the file's mu.
//
// The first part is S3's smallest, so that the save of a file of a part or two waits
// only for the rest. Its pages come back to the file once sent (headHome), as pages
// like any other (sealed into the spill file when memory is short), so that the file
// stays writable and readable there: a writer that goes back to fill in a header before
// closing, as zip and WAV writers do, can; the part is then sent again at the save
// (headDirty). And while nothing else has left, a save can still give up the stream and
// send the file whole, elsewhere (a conflict's copy beside) or after a failure
// (unstreamLocked).
//
// The upload carries the metadata the file had when its first part left. Attributes
// set after that (cp -a and tar set times, mode and owner after the last write, before
// closing; see File.MetaChanged) make the stream stale: while only the first part has
// left, it is given up (the part's request cancelled), so that the save sends the file
// whole with them, or the file streams anew; else the save writes them with a copy of
// the completed object onto itself.
type stream struct {
	e     *Engine
	f     *File
	key   string
	meta  map[string]string
	floor int64 // first page not yet handed to a part; the pages below are gone but the first part's
	next  int32 // the number of the part that begins at floor
	// closing is set when the save begins: from then on no more parts leave, the save
	// sends the rest (under the file's mu).
	closing bool

	// headPages is the first part's length; headSent is closed when its upload
	// ended. headHome and headDirty are guarded by the file's mu.
	headPages int64
	headSent  chan struct{}
	headHome  bool // the first part's pages are back in the file
	headDirty bool // written since: to be sent again
	// cancelHead cancels the first part's request.
	cancelHead context.CancelFunc
	// metaStale is set (under the file's mu) when attributes were set after the
	// upload began with meta.
	metaStale bool

	once  sync.Once
	up    Upload
	upErr error
	wg    sync.WaitGroup

	mu     sync.Mutex
	failed error // the first part that failed
	// done is closed when the stream ends, saved or abandoned: readers of a streamed
	// range wait for it.
	done     chan struct{}
	doneOnce sync.Once
}

// streamed reports whether page idx is on its way to S3 or there, not in the file.
// Called with the file's mu held.
func (s *stream) streamed(idx int64) bool {
	return s != nil && idx < s.floor && !(s.headHome && idx < s.headPages)
}

// wait is what a reader or writer of streamed page idx waits for before trying again:
// the first part's return, or the end of the stream.
func (s *stream) wait(idx int64) <-chan struct{} {
	if idx < s.headPages {
		return s.headSent
	}
	return s.done
}

// finish tells waiting readers that the stream ended.
func (s *stream) finish() { s.doneOnce.Do(func() { close(s.done) }) }

// MetaChanged tells the file that its metadata was set (attributes or extended
// attributes; not by a write, which a stream does not wait for): the save must store
// it. A stream begun before carries older metadata: see stream.
func (f *File) MetaChanged() {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A save on its way took the metadata before: keep the file dirty after it.
	f.dirty = true
	f.gen++
	s := f.stream
	if s == nil || s.closing {
		return
	}
	s.metaStale = true
	if s.floor == s.headPages && !f.unstreamLocked() {
		s.cancelHead() // it is on its way: stop it, to give the stream up once it is back
	}
}

// unstreamLocked makes a streaming file whose only part sent is the first, back home,
// an ordinary one again, to be saved whole: the stream is abandoned, its upload
// aborted. It reports whether the file no longer streams. Called with f.mu held.
func (f *File) unstreamLocked() bool {
	s := f.stream
	if s == nil {
		return true
	}
	if s.floor != s.headPages || !s.headHome {
		return false
	}
	f.stream = nil
	s.abandon()
	return true
}

// streamReadyParts hands each part that is complete, and that the writer has passed,
// to an upload. Called with f.mu held. Only content that does not build on a base
// object streams: an edit of an existing object keeps its pages so untouched ranges can
// be copied server-side. Nor does content that someone may read before it is saved (see
// File.keep).
func (f *File) streamReadyParts() {
	if f.baseLen > 0 || f.keep || f.e.cfg.PartSize <= 0 || (f.stream != nil && f.stream.closing) {
		return
	}
	if s := f.stream; s != nil && s.metaStale && s.floor == s.headPages && !f.unstreamLocked() {
		return // the first part, on its way, comes back to be sent anew with the new metadata
	}
	for {
		floor, n := int64(0), int32(1)
		if f.stream != nil {
			floor, n = f.stream.floor, f.stream.next
		}
		pp := f.e.streamPartPages(n)
		if f.size <= (floor+pp)*writePage {
			return // the writer has not passed this part yet: it may be the last
		}
		anySealed := false
		for i := range pp {
			_, inMemory := f.pages[floor+i]
			_, sealed := f.spilled[floor+i]
			if !inMemory && !sealed {
				return // a hole: the writer is not sequential here; wait
			}
			anySealed = anySealed || sealed
		}
		if anySealed && f.e.budget.over() {
			return // sealed pages come back past the budget: not more than a part at once
		}
		part := make([][]byte, pp)
		for i := range pp {
			p, err := f.pageLocked(floor + i)
			if err != nil {
				return // the part stays; it is sent at close
			}
			part[i] = p
		}
		if f.stream == nil {
			f.stream = &stream{e: f.e, f: f, key: f.key, meta: f.meta(), next: 1, done: make(chan struct{}),
				headPages: pp, headSent: make(chan struct{})}
		}
		for i := range pp {
			delete(f.pages, floor+i)
		}
		f.stream.floor += pp
		f.stream.next++
		ctx := context.Background()
		if n == 1 {
			ctx, f.stream.cancelHead = context.WithCancel(ctx)
		}
		f.stream.send(ctx, n, part)
	}
}

// streamPartPages is how many pages part n of a stream holds. The first is S3's
// smallest part, so that a file only a little larger streams, and its save waits for
// the rest only; the others are PartSize, doubled every partsPerDoubling parts (up to
// S3's largest part), so that 10,000 parts hold the largest object. Only the last part
// sent at the save may be shorter.
func (e *Engine) streamPartPages(n int32) int64 {
	ps := e.cfg.PartSize
	if n == 1 {
		return min(minPartCopy, ps) / writePage
	}
	ps <<= min(int(n-1)/partsPerDoubling, 20)
	return min(ps, maxPart) / writePage
}

// send uploads one part from its pages, in the background, within the engine's upload
// slots, and frees the pages' budget when done; the first part's pages go back to the
// file instead (see stream).
func (s *stream) send(ctx context.Context, n int32, pages [][]byte) {
	s.wg.Add(1)
	s.e.sending.Add(1)
	go func() {
		defer s.wg.Done()
		release := s.e.slot()
		up, err := s.upload()
		if err == nil {
			err = up.PutPartPages(ctx, n, pages)
		}
		release()
		if err != nil {
			s.fail(err)
		}
		home := n == 1 && s.comeHome(pages)
		s.e.sending.Add(-1) // before the pages wake a writer waiting for them
		if !home {
			for _, p := range pages {
				s.e.budget.putPage(p)
			}
		}
		if n == 1 {
			close(s.headSent)
		}
	}()
}

// comeHome puts the first part's pages back into the file, unless the file is done
// with the stream; it reports whether it did.
func (s *stream) comeHome(pages [][]byte) bool {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stream != s {
		return false
	}
	for i, p := range pages {
		f.pages[int64(i)] = p
	}
	s.headHome = true
	return true
}

// upload starts the multipart upload on first use.
func (s *stream) upload() (Upload, error) {
	s.once.Do(func() {
		s.up, s.upErr = s.e.store.StartUpload(context.Background(), s.key, s.meta)
	})
	return s.up, s.upErr
}

func (s *stream) fail(err error) {
	s.mu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.mu.Unlock()
}

// complete sends bytes [from, size) of f, the rest past the parts streamed, a part at a
// time as it is read (a hole or a sealed page is not assembled in memory), waits for
// every part, sends the first part again if it was written since it left, and
// completes the upload under cond; a failure aborts it.
func (s *stream) complete(ctx context.Context, f *File, from, size int64, cond bucket.Condition) (string, error) {
	up, err := s.upload()
	if err == nil {
		err = f.sendParts(ctx, up, f.e.appendParts(nil, from, size, s.next))
	}
	s.wg.Wait()
	if err == nil {
		s.mu.Lock()
		err = s.failed
		s.mu.Unlock()
	}
	if err == nil {
		f.mu.Lock()
		again := s.headDirty
		f.mu.Unlock()
		if again {
			err = f.sendParts(ctx, up, []partRange{{1, 0, s.headPages * writePage}})
		}
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

// abandon waits for parts in flight and aborts the upload, so no parts are left behind.
func (s *stream) abandon() {
	s.finish()
	go func() {
		s.wg.Wait()
		if up, err := s.upload(); err == nil {
			if err := up.Abort(); err != nil {
				s.e.log.Warn("could not abort an abandoned upload", "object", s.key, "err", err)
			}
		}
	}()
}
