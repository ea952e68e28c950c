package writeback

import (
	"errors"
	"sync"
	"time"
)

// writeBudget bounds the memory that all files' unsaved pages may take together
// (--write-buffer). Its mutex guards free and spare; reclaim is set once, before use. A writer that outruns the uploads waits here rather than growing
// memory.
type writeBudget struct {
	mu    sync.Mutex
	freed *sync.Cond
	free  int64
	limit int64
	// reclaim, if set, tries to free memory by spilling; it reports whether it did.
	reclaim func() bool
	// spare holds cleared pages for reuse: written pages cycle through a fixed set of
	// buffers instead of becoming garbage, so memory stays near the budget.
	spare [][]byte
}

// errNoBuffer is returned when a write waited too long for buffer space: every byte of
// it is held by files that cannot upload before they are closed.
var errNoBuffer = errors.New("write buffer full and nothing could be spilled or uploaded in time (raise --write-buffer)")

// budgetWait bounds how long one write waits for buffer space.
const budgetWait = 2 * time.Minute

func newWriteBudget(limit int64) *writeBudget {
	b := &writeBudget{free: limit, limit: limit}
	b.freed = sync.NewCond(&b.mu)
	return b
}

// acquire takes n bytes. When they are not free it first has pages of some file sealed
// into the encrypted spill file, then waits (bounded) for uploads to free memory.
func (b *writeBudget) acquire(n int64) error {
	deadline := time.Now().Add(budgetWait)
	timer := time.AfterFunc(budgetWait, func() {
		b.mu.Lock()
		b.freed.Broadcast()
		b.mu.Unlock()
	})
	defer timer.Stop()
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		if b.reclaim != nil && b.reclaim() {
			continue
		}
		b.mu.Lock()
		if b.free < n {
			if time.Now().After(deadline) {
				b.mu.Unlock()
				return errNoBuffer
			}
			b.freed.Wait()
		}
		b.mu.Unlock()
	}
}

// acquireNow takes n bytes without waiting, going over the limit if it must: for the
// few bytes a closing file needs to finish, which must not wait behind other writers.
func (b *writeBudget) acquireNow(n int64) {
	b.mu.Lock()
	b.free -= n
	b.mu.Unlock()
}

// over reports whether acquireNow took the budget past its limit.
func (b *writeBudget) over() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.free < 0
}

// getPage takes a page's worth of budget (see acquire) and returns a zeroed page.
func (b *writeBudget) getPage() ([]byte, error) {
	if err := b.acquire(writePage); err != nil {
		return nil, err
	}
	return b.takeSpare(), nil
}

// getPageNow is getPage without waiting (see acquireNow).
func (b *writeBudget) getPageNow() []byte {
	b.acquireNow(writePage)
	return b.takeSpare()
}

func (b *writeBudget) takeSpare() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.spare); n > 0 {
		p := b.spare[n-1]
		b.spare = b.spare[:n-1]
		return p
	}
	return make([]byte, writePage)
}

// putPage clears a page (it held plaintext), keeps it for reuse and returns its budget.
func (b *writeBudget) putPage(p []byte) {
	p = p[:cap(p)]
	clear(p)
	b.mu.Lock()
	if int64(len(b.spare)+1)*writePage <= b.limit {
		b.spare = append(b.spare, p)
	}
	b.free += writePage
	b.freed.Broadcast()
	b.mu.Unlock()
}
