package writeback

// Hooks into the engine's state for the tests of package writeback_test, which cannot
// live in package writeback: they use internal/memstore, which imports writeback.

// WritePage is the size of a page of unsaved data.
const WritePage = writePage

// ErrBehindStream answers a write, truncate or read below the part already streamed.
var ErrBehindStream = errBehindStream

// BudgetFree is how much of the write budget is free now (negative when acquireNow
// went over it).
func BudgetFree(e *Engine) int64 {
	e.budget.mu.Lock()
	defer e.budget.mu.Unlock()
	return e.budget.free
}

// StreamFloor is the first page not yet handed to a streamed part (0 when the file does
// not stream).
func StreamFloor(f *File) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stream == nil {
		return 0
	}
	return f.stream.floor
}

// Streaming reports whether parts of the file are on their way to S3.
func Streaming(f *File) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stream != nil
}

// Pages counts the file's pages in memory and in the spill file.
func Pages(f *File) (inMemory, spilled int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pages), len(f.spilled)
}

// Spilled reports whether page idx of the file is sealed in the spill file.
func Spilled(f *File, idx int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.spilled[idx]
	return ok
}

// WaitHead waits until a streaming file's first part is back from its upload, and
// returns its length in pages (0 when the file does not stream): from then on those
// pages are readable and writable again.
func WaitHead(f *File) int64 {
	f.mu.Lock()
	s := f.stream
	f.mu.Unlock()
	if s == nil {
		return 0
	}
	<-s.headSent
	return s.headPages
}

// StreamPartPages is how many pages part n of a stream holds.
func StreamPartPages(e *Engine, n int32) int64 { return e.streamPartPages(n) }
