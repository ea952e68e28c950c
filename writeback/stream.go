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
type stream struct {
	e     *Engine
	key   string
	meta  map[string]string
	floor int64 // first page not yet handed to a part; the pages below are gone
	// closing is set when the save begins: from then on no more parts leave, the save
	// sends the rest (under the file's mu).
	closing bool

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

// streamed reports whether page idx has left for S3. Called with the file's mu held.
func (s *stream) streamed(idx int64) bool { return s != nil && idx < s.floor }

// finish tells waiting readers that the stream ended.
func (s *stream) finish() { s.doneOnce.Do(func() { close(s.done) }) }

// streamReadyParts hands each part that is complete, and that the writer has left a
// whole part behind, to an upload. Called with f.mu held. Only content that does not
// build on a base object streams: an edit of an existing object keeps its pages so
// untouched ranges can be copied server-side. Nor does content that someone may read
// before it is saved (see File.keep).
func (f *File) streamReadyParts() {
	if f.baseLen > 0 || f.keep || f.e.cfg.PartSize <= 0 || (f.stream != nil && f.stream.closing) {
		return
	}
	ppp := f.e.cfg.PartSize / writePage
	for {
		floor := int64(0)
		if f.stream != nil {
			floor = f.stream.floor
		}
		if f.size < (floor+2*ppp)*writePage {
			return
		}
		anySealed := false
		for i := range ppp {
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
		part := make([][]byte, ppp)
		for i := range ppp {
			p, err := f.pageLocked(floor + i)
			if err != nil {
				return // the part stays; it is sent at close
			}
			part[i] = p
		}
		if f.stream == nil {
			f.stream = &stream{e: f.e, key: f.key, meta: f.meta(), done: make(chan struct{})}
		}
		for i := range ppp {
			delete(f.pages, floor+i)
		}
		f.stream.floor += ppp
		f.stream.send(int32(floor/ppp)+1, part)
	}
}

// send uploads one part from its pages, in the background, within the engine's upload
// slots, and frees the pages' budget when done.
func (s *stream) send(n int32, pages [][]byte) {
	s.wg.Add(1)
	s.e.sending.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.e.sending.Add(-1) // before the pages wake a writer waiting for them
			for _, p := range pages {
				s.e.budget.putPage(p)
			}
		}()
		defer s.e.slot()()
		up, err := s.upload()
		if err == nil {
			err = up.PutPartPages(context.Background(), n, pages)
		}
		if err != nil {
			s.fail(err)
		}
	}()
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
// every part and completes the upload under cond; a failure aborts it.
func (s *stream) complete(ctx context.Context, f *File, from, size int64, cond bucket.Condition) (string, error) {
	up, err := s.upload()
	if err == nil {
		err = f.sendParts(ctx, up, from, size, s.e.cfg.PartSize)
	}
	s.wg.Wait()
	if err == nil {
		s.mu.Lock()
		err = s.failed
		s.mu.Unlock()
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
