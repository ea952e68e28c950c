package fs

import (
	"log/slog"
	"sync"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/ssecfs/ssecfs/cache"
)

// FS is one mounted bucket prefix.
type FS struct {
	store   ObjectStore
	pages   *cache.PageCache
	opts    Options
	log     *slog.Logger
	started time.Time
	budget  *writeBudget
	// uploadSlots bounds the parts in flight over all files.
	uploadSlots chan struct{}
	// open holds the files being written; spill takes their pages when memory is short.
	open      contents
	spillOnce sync.Once
	spill     *spillFile
	spillErr  error

	warnedMu sync.Mutex
	warned   map[string]bool // keys already warned about, so a re-listing does not repeat it
}

// maxWarned bounds the memory of warnings given.
const maxWarned = 10000

// New makes the tree over store, reading through pages.
func New(store ObjectStore, pages *cache.PageCache, opts Options) *FS {
	o := opts.withDefaults()
	f := &FS{
		store:       store,
		pages:       pages,
		opts:        o,
		log:         o.Logger,
		started:     time.Now(),
		budget:      newWriteBudget(o.WriteBuffer),
		uploadSlots: make(chan struct{}, o.UploadConcurrency),
		open:        contents{set: make(map[*content]struct{})},
		warned:      make(map[string]bool),
	}
	f.budget.reclaim = f.reclaim
	return f
}

// Root is the node of the mounted prefix.
func (f *FS) Root() gofs.InodeEmbedder {
	return newDirNode(f, f.opts.Prefix)
}

// warnOnce logs msg about key the first time only.
func (f *FS) warnOnce(key, msg string, args ...any) {
	f.warnedMu.Lock()
	seen := f.warned[key]
	if !seen && len(f.warned) < maxWarned {
		f.warned[key] = true
	}
	f.warnedMu.Unlock()
	if !seen {
		f.log.Warn(msg, append([]any{"object", key}, args...)...)
	}
}
