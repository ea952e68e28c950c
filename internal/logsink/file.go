package logsink

import (
	"errors"
	"os"
	"sync"
)

// reopenFile is a log file that can be closed and opened again at the same path while
// records are written to it.
type reopenFile struct {
	path string

	mu sync.Mutex
	f  *os.File // nil once closed
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

func openReopenable(path string) (*reopenFile, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	return &reopenFile{path: path, f: f}, nil
}

var errClosed = errors.New("log sink closed")

// Write writes p with one write(2) on an O_APPEND file: a record is never interleaved
// with another process's.
func (r *reopenFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, errClosed
	}
	return r.f.Write(p)
}

// reopen opens the path first and swaps only if that worked, so a failure leaves lines
// going to the old file.
func (r *reopenFile) reopen() error {
	nf, err := openFile(r.path)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.f
	if old == nil {
		r.mu.Unlock()
		nf.Close()
		return errClosed
	}
	r.f = nf
	r.mu.Unlock()
	return old.Close()
}

func (r *reopenFile) chmod(mode os.FileMode) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return errClosed
	}
	return r.f.Chmod(mode)
}

func (r *reopenFile) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
