package writeback

import "errors"

// What the write-back holds, for metrics: Engine.Stats answers it when asked (a scrape),
// so writes pay nothing for it. Conflicts are told to Config.Observer as they happen.
// The requests themselves (parts, puts, copies) are the bucket's to observe.

// Observer is told of the conflicts of saves (Config.Observer). It must be quick and
// safe for concurrent use.
type Observer interface {
	// WritebackConflict: a save found the object replaced by another writer since the
	// file started from it; savedBeside says whether the content was saved beside it
	// as NAME.conflict-<time> (else it was not saved at all).
	WritebackConflict(savedBeside bool)
}

// Stats is what the write-back of a mount holds at one moment.
type Stats struct {
	// UploadsInFlight is how many upload slots are taken: multipart parts (streamed,
	// or sent by a save) and the mount's server-side copies on their way.
	// UploadSlots is how many there are (--upload-concurrency).
	UploadsInFlight, UploadSlots int
	// BufferInUse is the memory of unsaved pages, taken from the write budget; it may
	// pass BufferLimit (--write-buffer) by the few pages a closing file needs.
	BufferInUse, BufferLimit int64
	// SpillBytes is the unsaved data sealed in the encrypted spill file.
	SpillBytes int64
}

// Stats reports what the write-back holds now.
func (e *Engine) Stats() Stats {
	s := Stats{UploadsInFlight: len(e.cfg.Slots), UploadSlots: cap(e.cfg.Slots)}
	e.budget.mu.Lock()
	s.BufferInUse, s.BufferLimit = e.budget.limit-e.budget.free, e.budget.limit
	e.budget.mu.Unlock()
	e.mu.Lock() // Engine.mu, then File.mu: the lock order
	for f := range e.files {
		f.mu.Lock()
		s.SpillBytes += int64(len(f.spilled)) * writePage
		f.mu.Unlock()
	}
	e.mu.Unlock()
	return s
}

// conflict tells the observer of err, the answer of a save that met another writer's
// version, and returns it.
func (e *Engine) conflict(err error) error {
	var c *ConflictError
	if e.cfg.Observer != nil && errors.As(err, &c) {
		e.cfg.Observer.WritebackConflict(c.SavedAs != "")
	}
	return err
}
