package writeback

import (
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Config shapes the write-back of one mount.
type Config struct {
	// PartSize is the multipart part size (a multiple of 1 MiB, at least 5 MiB); files
	// up to it are saved with one PutObject.
	PartSize int64
	// WriteBuffer bounds the memory of all files' unsaved pages together.
	WriteBuffer int64
	// Slots bounds the uploads in flight over all files; the caller may share it with
	// its own server-side copies. Its capacity is the concurrency.
	Slots chan struct{}
	// OverwriteConcurrent turns off the conditional writes that keep concurrent writers
	// on other machines from overwriting each other: last writer wins.
	OverwriteConcurrent bool
	// TempDir holds the encrypted spill file; "" means os.TempDir().
	TempDir string
	// Logger receives warnings and errors; nil means slog.Default().
	Logger *slog.Logger
	// Observer, if set, is told of conflicts (observe.go); Engine.Stats tells the rest.
	Observer Observer
}

// Engine holds what the files being written share: the store, the write budget, the
// upload slots and the spill file.
type Engine struct {
	store    Store
	openBase OpenBase
	cfg      Config
	log      *slog.Logger
	budget   *writeBudget

	mu    sync.Mutex
	files map[*File]struct{} // files with content, from which memory is reclaimed

	// sending counts the streamed parts on their way, whose pages return to the budget
	// when they arrive.
	sending atomic.Int64

	spillOnce sync.Once
	spill     *spillFile // made on first reclaim; read only after that
	spillErr  error
}

// New makes the write-back of one mount over store; openBase reads the version a file
// started from.
func New(store Store, openBase OpenBase, cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Slots == nil {
		cfg.Slots = make(chan struct{}, 4)
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	e := &Engine{store: store, openBase: openBase, cfg: cfg, log: cfg.Logger,
		budget: newWriteBudget(cfg.WriteBuffer), files: make(map[*File]struct{})}
	e.budget.reclaim = e.reclaim
	return e
}

func (e *Engine) register(f *File) {
	e.mu.Lock()
	e.files[f] = struct{}{}
	e.mu.Unlock()
}

func (e *Engine) unregister(f *File) {
	e.mu.Lock()
	delete(e.files, f)
	e.mu.Unlock()
}

// slot waits for an upload slot; the returned func gives it back.
func (e *Engine) slot() func() {
	e.cfg.Slots <- struct{}{}
	return func() { <-e.cfg.Slots }
}
