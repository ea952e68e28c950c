package fs

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/ssecfs/ssecfs/cache"
)

// Next-file prefetch: when a process reads the files of one directory in the order of
// its listing (cp -r, rsync, tar, `for f in *`, a Python loop), the next files are
// fetched into the page cache before they are opened.
//
//   - dirstream.go: a complete listing records the order of its files (dirNode.order)
//     and each file's place in it (listedChild.ord, which later news of the name
//     keeps), with the size and ETag the listing gave.
//   - file.go, Open: a read-only open of a file that is not being written tells its
//     directory, with the process that opened it (walkedTo, below).
//   - opened: each process has a walk of its own through the directory (at most
//     maxWalks, the least recently used one dropped), so that several copies at once,
//     each through its own files (8 `cp` of 8 files each, `xargs -P`), are each
//     followed. The process's walk compares the file's place with its previous open's.
//     One of the next prefetchSkip files continues the walk (a tool may skip a few, or
//     visit a directory between two files); any other open (backwards, far ahead, a
//     name the listing did not show) stops it and forgets what was ahead. The first
//     open of a walk starts nothing; each open that continues it fetches ahead up to
//     2, 4, 8, ... files, up to Options.PrefetchFiles, so that a random access pattern
//     that follows the listing once by chance costs two fetches at most.
//   - prefetchLocked takes the next files of the listing that are not ahead already:
//     regular files only (a directory, a symbolic link, a file being written, an
//     empty file, or one whose listing is older than --stat-ttl is skipped), each
//     pinned to the version the open will pin (the node's attributes, else the
//     listing's entry), and asks the cache (cache.PageCache.Prefetch) for its first
//     min(size, prefetchHead) bytes through f.fetcher(key, etag, nil, nil): a keyed GET
//     with If-Match on that ETag, so an object replaced since the listing fails with
//     412 and nothing of it is cached; its open then reads the new version
//     (readHandle.relearn). The bytes prefetched and not yet opened, over all the
//     directory's walks, stay within an eighth of the cache (PageCache.Capacity),
//     and the cache itself starts a
//     prefetch only while read-ahead in flight is within half of its budget: when it
//     answers cache.ErrPrefetchBusy, the walk is topped up again as a fetch of it ends
//     (prefetchDone) or at the next open.
//   - Readers made later by opens of the same object and ETag find those pages, or
//     join their fetches: pages are keyed by (object, ETag).
//
// Locks: dirNode.walkMu guards the walks and is held while the cache is asked, so that
// two top-ups (an open, a fetch that ended) do not start the same file twice; it is
// taken before dirNode.mu and the nodes' locks (each held briefly to read), and the
// cache calls prefetchDone with no lock of its own held.

const (
	// defaultPrefetchFiles is how many files are fetched ahead of a walk at most.
	defaultPrefetchFiles = 16
	// prefetchHead is the most of one file fetched before it is opened: a read-ahead
	// block. Smaller files are fetched whole; the reader's read-ahead does the rest.
	prefetchHead = 8 << 20
	// prefetchSkip is how many places after the previous open an open may be and still
	// continue the walk.
	prefetchSkip = 3
	// maxWalks is how many processes' walks a directory follows at once.
	maxWalks = 16
)

// prefetchWalk is a directory's walk through its files in listing order.
type prefetchWalk struct {
	used   uint64    // dirNode.walkClock at its latest open
	usedAt time.Time // and when
	last   int       // ord of the latest read-only open; 0: none
	streak int       // opens in a row that followed the listing order
	// ahead is the files prefetched and not yet opened, by name: their ord and the
	// bytes asked for; aheadBytes their sum.
	ahead      map[string]aheadFile
	aheadBytes int64
	starved    bool // the cache refused a prefetch: top up when a fetch ends
}

type aheadFile struct {
	ord   int
	bytes int64
}

// stopWalk ends walk w: nothing is ahead of it any more. walkMu must be held.
func (d *dirNode) stopWalk(w *prefetchWalk) {
	d.walkAhead -= w.aheadBytes
	w.streak, w.starved = 0, false
	w.ahead, w.aheadBytes = nil, 0
}

// walkOf is the walk of process pid, made if need be; the least recently used walk
// is dropped to make room. walkMu must be held.
func (d *dirNode) walkOf(pid uint32) *prefetchWalk {
	d.walkClock++
	if w := d.walks[pid]; w != nil {
		w.used, w.usedAt = d.walkClock, time.Now()
		return w
	}
	if d.walks == nil {
		d.walks = make(map[uint32]*prefetchWalk)
	}
	if len(d.walks) >= maxWalks {
		var oldest uint32
		for p, w := range d.walks {
			if d.walks[oldest] == nil || w.used < d.walks[oldest].used {
				oldest = p
			}
		}
		d.stopWalk(d.walks[oldest])
		delete(d.walks, oldest)
	}
	w := &prefetchWalk{used: d.walkClock, usedAt: time.Now()}
	d.walks[pid] = w
	return w
}

// walkIdle is how long a walk may go without an open before what it fetched ahead
// stops counting against the others' budget: its process has likely moved on.
const walkIdle = 2 * time.Second

// stopIdleWalks stops the walks other than w that have not opened a file for
// walkIdle, so that files they fetched ahead and nobody opened do not hold the
// directory's budget forever. walkMu must be held.
func (d *dirNode) stopIdleWalks(w *prefetchWalk) {
	for pid, o := range d.walks {
		if o != w && time.Since(o.usedAt) > walkIdle {
			d.stopWalk(o)
			delete(d.walks, pid)
		}
	}
}

// prefetchCounters are what the mount's prefetch did, for PrefetchStats.
type prefetchCounters struct {
	files, bytes atomic.Int64 // files and bytes whose fetch was started
	busy         atomic.Int64 // prefetches the cache refused (read-ahead budget in flight)
	stops        atomic.Int64 // walks stopped by an open out of order
	aheadMax     atomic.Int64 // most bytes prefetched and not yet opened in one directory
	opensListed  atomic.Int64 // read-only opens pinned from a listing, without a HEAD
	relearned    atomic.Int64 // handles that found their listed version replaced and moved to the new one
	aheadLimit   atomic.Int64 // the bound aheadMax is held to (an eighth of the cache)
}

// PrefetchStats is what the next-file prefetch did since the mount started.
type PrefetchStats struct {
	// Files and Bytes count the files whose first bytes were fetched before they
	// were opened, and those bytes (started: a fetch may fail, 412 included).
	Files, Bytes int64
	// Busy counts prefetches the cache refused for lack of read-ahead budget.
	Busy int64
	// Stops counts walks ended by an open out of listing order.
	Stops int64
	// AheadMax is the most bytes one directory had prefetched and not yet opened, and
	// AheadLimit the bound it is kept within (an eighth of the cache).
	AheadMax, AheadLimit int64
	// OpensListed counts read-only opens pinned to a listed version without a HEAD;
	// Relearned, those that found the object replaced before reading and read the
	// new version.
	OpensListed, Relearned int64
}

// PrefetchStats says what the next-file prefetch did since the mount started.
func (f *FS) PrefetchStats() PrefetchStats {
	c := &f.prefetchCount
	return PrefetchStats{
		Files: c.files.Load(), Bytes: c.bytes.Load(), Busy: c.busy.Load(), Stops: c.stops.Load(),
		AheadMax: c.aheadMax.Load(), AheadLimit: c.aheadLimit.Load(),
		OpensListed: c.opensListed.Load(), Relearned: c.relearned.Load(),
	}
}

// PrefetchObserver, if Options.Observer implements it, is told of each file whose
// first bytes are fetched before it is opened.
type PrefetchObserver interface {
	// FilePrefetched: the first bytes bytes of a file are being fetched ahead of a
	// reader that walks its directory.
	FilePrefetched(bytes int64)
}

// prefetchOn says whether the mount prefetches next files.
func (f *FS) prefetchOn() bool {
	return f.pages != nil && f.opts.PrefetchFiles > 0 && f.opts.StatTTL > 0
}

// prefetchLimit is the most bytes a walk keeps prefetched and not yet opened.
func (f *FS) prefetchLimit() int64 { return f.pages.Capacity() / 8 }

// walkedTo tells n's directory that process pid opened n read-only.
func (n *fileNode) walkedTo(pid uint32) {
	if !n.fsys.prefetchOn() {
		return
	}
	name, parent := n.Parent()
	if parent == nil {
		return
	}
	if d, ok := parent.Operations().(*dirNode); ok {
		d.opened(name, pid)
	}
}

// opened moves process pid's walk to the file name, just opened: it goes on if name
// is one of the next few files of the listing, and fetches further ahead; else it
// stops.
func (d *dirNode) opened(name string, pid uint32) {
	d.walkMu.Lock()
	defer d.walkMu.Unlock()
	d.mu.Lock()
	ord := d.listed[name].ord
	d.mu.Unlock()
	w := d.walkOf(pid)
	switch {
	case ord != 0 && ord == w.last:
		return // the same file again
	case ord != 0 && w.last != 0 && ord > w.last && ord <= w.last+prefetchSkip:
		w.streak++
	default:
		if len(w.ahead) > 0 || w.streak > 0 {
			d.fsys.prefetchCount.stops.Add(1)
		}
		d.stopWalk(w)
	}
	w.last = ord
	for other, a := range w.ahead {
		if a.ord <= ord { // opened, or passed over
			delete(w.ahead, other)
			w.aheadBytes -= a.bytes
			d.walkAhead -= a.bytes
		}
	}
	// Opened by this process or another: no longer ahead of anyone.
	for _, o := range d.walks {
		if a, ok := o.ahead[name]; ok {
			delete(o.ahead, name)
			o.aheadBytes -= a.bytes
			d.walkAhead -= a.bytes
		}
	}
	if ord != 0 && w.streak > 0 {
		d.prefetchLocked(w)
	}
}

// prefetchDone is called by the cache as a prefetch's fetch ends: if the cache refused
// a prefetch for lack of budget, there may be room now.
func (d *dirNode) prefetchDone() {
	d.walkMu.Lock()
	defer d.walkMu.Unlock()
	for _, w := range d.walks {
		if w.starved && w.streak > 0 {
			d.prefetchLocked(w)
		}
	}
}

// prefetchTarget is a file to fetch ahead: its place, object and version.
type prefetchTarget struct {
	name      string
	ord       int
	key, etag string
	size      int64
}

// prefetchLocked fetches ahead of walk w: the next files of the listing after its
// latest open, up to as many as the walk has earned, within the byte bound of all the
// directory's walks. walkMu must be held.
func (d *dirNode) prefetchLocked(w *prefetchWalk) {
	f := d.fsys
	files := min(f.opts.PrefetchFiles, 1<<min(w.streak, 20))
	limit := f.prefetchLimit()
	f.prefetchCount.aheadLimit.Store(limit)
	w.starved = false
	if len(w.ahead) >= files {
		return
	}
	next := d.nextFiles(w.last, files+2*prefetchSkip)
	for i := range next {
		t := &next[i]
		if len(w.ahead) >= files {
			return
		}
		if _, ok := w.ahead[t.name]; ok {
			continue
		}
		if !d.mayPrefetch(t) {
			continue
		}
		want := min(t.size, prefetchHead, limit)
		if want > 0 && d.walkAhead+want > limit {
			d.stopIdleWalks(w)
		}
		if want <= 0 || d.walkAhead+want > limit {
			return
		}
		started, err := f.pages.Prefetch(t.key, t.etag, t.size, want, f.fetcher(t.key, t.etag, nil, nil), d.prefetchDone)
		if err != nil {
			if errors.Is(err, cache.ErrPrefetchBusy) {
				f.prefetchCount.busy.Add(1)
				w.starved = true
			}
			return
		}
		if w.ahead == nil {
			w.ahead = make(map[string]aheadFile)
		}
		w.ahead[t.name] = aheadFile{ord: t.ord, bytes: want}
		w.aheadBytes += want
		d.walkAhead += want
		for {
			m := f.prefetchCount.aheadMax.Load()
			if d.walkAhead <= m || f.prefetchCount.aheadMax.CompareAndSwap(m, d.walkAhead) {
				break
			}
		}
		if started > 0 {
			f.prefetchCount.files.Add(1)
			f.prefetchCount.bytes.Add(started)
			if o, ok := f.opts.Observer.(PrefetchObserver); ok {
				o.FilePrefetched(started)
			}
		}
	}
}

// nextFiles are at most n files of the listing after place last, as fresh listings
// (no older than --stat-ttl) show them.
func (d *dirNode) nextFiles(last, n int) []prefetchTarget {
	ttl := d.fsys.opts.StatTTL
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []prefetchTarget
	for i := last; i < len(d.order) && i < last+n; i++ {
		name := d.order[i]
		c, ok := d.listed[name]
		if !ok || c.gone || c.entry.Dir || c.ord != i+1 || c.entry.ETag == "" || c.entry.Size <= 0 || time.Since(c.at) >= ttl {
			continue
		}
		out = append(out, prefetchTarget{name: name, ord: c.ord, key: c.entry.Key, etag: c.entry.ETag, size: c.entry.Size})
	}
	return out
}

// mayPrefetch checks t against the node the tree has for its name, if any, and takes
// the version an open would pin: a directory or a symbolic link is never fetched, nor a
// file being written or removed, nor one whose attributes are older than --stat-ttl
// (its open will ask S3 what is current).
func (d *dirNode) mayPrefetch(t *prefetchTarget) bool {
	ch := d.GetChild(t.name)
	if ch == nil {
		return true
	}
	fn, ok := ch.Operations().(*fileNode)
	if !ok {
		return false
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	a := fn.attrs
	if fn.content != nil || fn.unlinked || a.etag == "" || a.size <= 0 || time.Since(a.asOf) >= d.fsys.opts.StatTTL {
		return false
	}
	t.key, t.etag, t.size = fn.key, a.etag, a.size
	return true
}
