package writeback

// spillBatch is how many pages one reclaim moves, so the spill file is written in runs.
const spillBatch = 8

// reclaim frees write budget by sealing pages of the file that holds the most in memory
// into the encrypted spill file. It reports whether it freed anything.
func (e *Engine) reclaim() bool {
	e.mu.Lock()
	var victim *File
	most := 0
	for f := range e.files {
		if n := f.memoryPages(); n > most {
			victim, most = f, n
		}
	}
	e.mu.Unlock()
	if victim == nil {
		return false
	}
	e.spillOnce.Do(func() {
		e.spill, e.spillErr = newSpillFile(e.cfg.TempDir)
	})
	if e.spillErr != nil {
		e.log.Error("cannot spill unsaved pages: writes wait for memory instead", "err", e.spillErr)
		return false
	}
	moved, err := victim.spillPages(spillBatch)
	if err != nil {
		e.log.Error("spilling unsaved pages failed", "object", victim.Key(), "err", err)
	}
	if moved > 0 {
		e.log.Debug("moved unsaved pages to the encrypted spill file", "object", victim.Key(), "pages", moved)
	}
	return moved > 0
}
