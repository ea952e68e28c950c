package fs

import (
	"os"
	"sync"
)

// contents is the set of files with a shared content, from which memory is reclaimed
// by spilling when the write budget runs out.
type contents struct {
	mu  sync.Mutex
	set map[*content]struct{}
}

func (f *FS) register(c *content) {
	f.open.mu.Lock()
	f.open.set[c] = struct{}{}
	f.open.mu.Unlock()
}

func (f *FS) unregister(c *content) {
	f.open.mu.Lock()
	delete(f.open.set, c)
	f.open.mu.Unlock()
}

// spillBatch is how many pages one reclaim moves, so the spill file is written in runs.
const spillBatch = 8

// reclaim frees write budget by sealing pages of the file that holds the most in memory
// into the encrypted spill file. It reports whether it freed anything.
func (f *FS) reclaim() bool {
	f.open.mu.Lock()
	var victim *content
	most := 0
	for c := range f.open.set {
		if n := c.memoryPages(); n > most {
			victim, most = c, n
		}
	}
	f.open.mu.Unlock()
	if victim == nil {
		return false
	}
	f.spillOnce.Do(func() {
		f.spill, f.spillErr = newSpillFile(os.TempDir())
	})
	if f.spillErr != nil {
		f.log.Error("cannot spill unsaved pages: writes wait for memory instead", "err", f.spillErr)
		return false
	}
	moved, err := victim.spillPages(spillBatch)
	if err != nil {
		f.log.Error("spilling unsaved pages failed", "object", victim.key, "err", err)
	}
	if moved > 0 {
		f.log.Debug("moved unsaved pages to the encrypted spill file", "object", victim.key, "pages", moved)
	}
	return moved > 0
}
