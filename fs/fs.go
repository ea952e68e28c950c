package fs

import (
	"log/slog"
	"sync"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/writeback"
)

// FS is one mounted bucket prefix.
type FS struct {
	store   ObjectStore
	pages   *cache.PageCache
	opts    Options
	log     *slog.Logger
	started time.Time
	// writes holds the unsaved content of the files being written.
	writes *writeback.Engine
	// uploadSlots bounds the parts and server-side copies in flight over all files.
	uploadSlots chan struct{}
	// renameMu orders renames against every other change of the bucket: a rename copies
	// objects and then deletes them, so a save, create or delete under a name it moves
	// must come wholly before it or wholly after. Renames hold it exclusively (renaming),
	// other changes shared (changing). It is taken before any node's lock, never twice.
	renameMu sync.RWMutex

	rootOnce sync.Once
	root     *dirNode

	// prefetchCount counts what the next-file prefetch did (prefetch.go).
	prefetchCount prefetchCounters

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
		uploadSlots: make(chan struct{}, o.UploadConcurrency),
		warned:      make(map[string]bool),
	}
	f.writes = writeback.New(store, f.openBase, writeback.Config{
		PartSize:            o.PartSize,
		WriteBuffer:         o.WriteBuffer,
		Slots:               f.uploadSlots,
		OverwriteConcurrent: o.OverwriteConcurrent,
		Logger:              o.Logger,
		Observer:            o.Observer,
	})
	return f
}

// openBase reads version etag of key through the page cache: the base of a file being
// written.
func (f *FS) openBase(key, etag string, size int64) writeback.Base {
	return f.pages.NewReader(key, etag, size, f.fetcher(key, etag, nil, nil))
}

// changing holds off renames while the bucket changes under a name; call the result to
// let them go.
func (f *FS) changing() func() {
	f.renameMu.RLock()
	return f.renameMu.RUnlock
}

// renaming waits for every change in progress and holds off new ones.
func (f *FS) renaming() func() {
	f.renameMu.Lock()
	return f.renameMu.Unlock
}

// Root is the node of the mounted prefix, made on the first call.
func (f *FS) Root() gofs.InodeEmbedder {
	f.rootOnce.Do(func() { f.root = newDirNode(f, f.opts.Prefix) })
	return f.root
}

// DropListings forgets every directory's cached listing (SIGHUP): the next lookup or
// readdir of each asks S3 again. Open files and unsaved changes are not touched.
func (f *FS) DropListings() {
	f.rootOnce.Do(func() { f.root = newDirNode(f, f.opts.Prefix) })
	dropListings(&f.root.Inode)
}

func dropListings(in *gofs.Inode) {
	if d, ok := in.Operations().(*dirNode); ok {
		d.forgetListing()
	}
	for _, ch := range in.Children() {
		if ch.IsDir() {
			dropListings(ch)
		}
	}
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
