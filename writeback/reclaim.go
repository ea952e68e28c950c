package writeback

// spillBatch is how many pages one reclaim moves, so the spill file is written in runs.
const spillBatch = 8

// reclaim frees write budget by sealing pages of the file that holds the most in memory
// into the encrypted spill file. It reports whether it freed anything.
func (e *Engine) reclaim() bool {
	victim, all := e.victim(false), false
	if victim == nil && e.sending.Load() == 0 {
		// Only pages that are to stream are left, and no part is on its way to free
		// memory: writers of streaming files would wait for each other (each holds
		// up to two parts less a page before its next part leaves). Seal those too;
		// they come back when their part leaves.
		victim, all = e.victim(true), true
	}
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
	moved, err := victim.spillPages(spillBatch, all)
	if err != nil {
		e.log.Error("spilling unsaved pages failed", "object", victim.Key(), "err", err)
	}
	if moved > 0 {
		e.log.Debug("moved unsaved pages to the encrypted spill file", "object", victim.Key(), "pages", moved)
	}
	return moved > 0
}

// victim is the file with the most pages in memory that may be sealed (all: any page),
// or nil.
func (e *Engine) victim(all bool) *File {
	e.mu.Lock()
	defer e.mu.Unlock()
	var victim *File
	most := 0
	for f := range e.files {
		if n := f.memoryPages(all); n > most {
			victim, most = f, n
		}
	}
	return victim
}
