package fs

import (
	"context"
	"sync"

	"github.com/ssecfs/ssecfs/bucket"
)

// stream uploads the parts of a file written front to back while it is being written,
// so a file larger than memory passes through a bounded buffer. The parts go to the
// object's own multipart upload, invisible until it completes at close.
type stream struct {
	c     *content
	floor int64 // first page not yet handed to a part; the pages below are gone

	once   sync.Once
	up     *bucket.Upload
	upErr  error
	meta   map[string]string
	wg     sync.WaitGroup
	mu     sync.Mutex
	failed error
	// done is closed when the stream ends, saved or abandoned: readers of a streamed
	// range wait for it.
	done     chan struct{}
	doneOnce sync.Once
}

func newStream(c *content) *stream {
	return &stream{c: c, meta: c.node.metadata(), done: make(chan struct{})}
}

// finish tells waiting readers that the stream ended.
func (s *stream) finish() { s.doneOnce.Do(func() { close(s.done) }) }

func (s *stream) pagesPerPart() int64 { return s.c.fsys.opts.PartSize / writePage }

// streamReadyParts hands each part that is complete, and that the writer has left a
// whole part behind, to an upload. Called with c.mu held. Only content that does not
// build on a base object streams: an edit of an existing object keeps its pages so
// untouched ranges can be copied server-side. Nor does content that someone may read
// before it is saved (see content.keep).
func (c *content) streamReadyParts() {
	if c.baseLen > 0 || c.keep || c.fsys.opts.PartSize <= 0 {
		return
	}
	ppp := c.fsys.opts.PartSize / writePage
	for {
		floor := int64(0)
		if c.stream != nil {
			floor = c.stream.floor
		}
		if c.size < (floor+2*ppp)*writePage {
			return
		}
		part := make([][]byte, ppp)
		for i := range ppp {
			_, inMemory := c.pages[floor+i]
			_, sealed := c.spilled[floor+i]
			if !inMemory && !sealed {
				return // a hole: the writer is not sequential here; wait
			}
		}
		for i := range ppp {
			p, err := c.pageLocked(floor + i)
			if err != nil {
				return // the part stays; it is sent at close
			}
			part[i] = p
		}
		if c.stream == nil {
			c.stream = newStream(c)
		}
		for i := range ppp {
			delete(c.pages, floor+i)
		}
		c.stream.floor += ppp
		c.stream.send(int32(floor/ppp)+1, part)
	}
}

// send uploads one part from its pages, in the background, within the mount's upload
// slots, and frees the pages' budget when done.
func (s *stream) send(n int32, pages [][]byte) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			for _, p := range pages {
				s.c.fsys.budget.putPage(p)
			}
		}()
		s.c.fsys.uploadSlots <- struct{}{}
		defer func() { <-s.c.fsys.uploadSlots }()
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
func (s *stream) upload() (*bucket.Upload, error) {
	s.once.Do(func() {
		s.up, s.upErr = s.c.fsys.store.StartUpload(context.Background(), s.c.key, s.meta)
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

func (s *stream) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// abandon waits for parts in flight and aborts the upload, so no parts are left behind.
func (s *stream) abandon() {
	s.finish()
	go func() {
		s.wg.Wait()
		if up, err := s.upload(); err == nil {
			if err := up.Abort(); err != nil {
				s.c.fsys.log.Warn("could not abort an abandoned upload", "object", s.c.key, "err", err)
			}
		}
	}()
}
