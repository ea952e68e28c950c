package fs

import (
	"context"
	"errors"
	"slices"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
)

// dirNode is a key prefix ("" for the bucket's root, else ending in "/").
type dirNode struct {
	gofs.Inode
	fsys   *FS
	prefix string

	mu sync.Mutex
	// listed holds what the latest listing said of each child, so the lookups that
	// READDIRPLUS makes for every entry need no request of their own.
	listed map[string]listedChild
	// complete is when a listing last ran to its end: until it is StatTTL old, a
	// name it did not show does not exist.
	complete time.Time
	// attrs are the directory's mode, owner, times and xattrs: the mount's defaults
	// until its marker's metadata is read (attrsKnown), or set here.
	attrs      posixAttrs
	attrsKnown bool
	// order is the names of the files (not directories) of the latest complete
	// listing, in its order: what a walk through the directory follows (prefetch.go).
	order []string

	// walkMu guards walks and walkAhead; it is taken before mu, and before the
	// cache's locks. walks are the processes' walks through the directory, by pid
	// (prefetch.go); walkAhead is the sum of their bytes ahead.
	walkMu    sync.Mutex
	walks     map[uint32]*prefetchWalk
	walkAhead int64
	walkClock uint64 // counts opens, to find the least recently used walk
}

// listedChild is what is known of one name, and since when: at is when the listing or
// probe that said so was sent, or when a change made here took effect. Older news never
// replaces newer. gone marks a name removed here, so that a listing sent before the
// removal does not bring it back.
type listedChild struct {
	entry bucket.Entry
	at    time.Time
	gone  bool
	// ord is 1 + the file's place in order (0: not a file of the latest complete
	// listing). News of the name keeps it.
	ord int
}

var (
	_ gofs.NodeLookuper  = (*dirNode)(nil)
	_ gofs.NodeReaddirer = (*dirNode)(nil)
	_ gofs.NodeGetattrer = (*dirNode)(nil)
)

func newDirNode(f *FS, prefix string) *dirNode {
	t := f.started
	return &dirNode{fsys: f, prefix: prefix, listed: make(map[string]listedChild),
		attrs: posixAttrs{perm: f.opts.DirMode, uid: f.opts.UID, gid: f.opts.GID, atime: t, mtime: t, ctime: t}}
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if newNameErrno(d.keyPrefix(), name, "") != 0 {
		return nil, lookupErrno(d.keyPrefix(), name)
	}
	// Requests are not tied to the kernel's request: a Go client's own SIGURG
	// interrupts it, and a half-done lookup helps nobody. The bucket bounds the time.
	ctx = context.WithoutCancel(ctx)
	if c, ok, complete := d.fromListing(name); ok && !c.gone {
		return d.childFromEntry(ctx, name, c.entry, c.at, out), 0
	} else if ok || complete {
		return nil, syscall.ENOENT
	}
	return d.probe(ctx, name, out)
}

// fromListing answers a lookup from what is fresh: the name's entry if known (which may
// say it is gone), and whether a complete listing is fresh enough to say that an unlisted
// name does not exist.
func (d *dirNode) fromListing(name string) (listedChild, bool, bool) {
	ttl := d.fsys.opts.StatTTL
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.listed[name]; ok && time.Since(c.at) < ttl {
		return c, true, false
	}
	return listedChild{}, false, !d.complete.IsZero() && time.Since(d.complete) < ttl
}

// probe finds out what an unlisted name is: a keyed HEAD of the object and a one-key
// listing of the prefix, side by side. A name that is both shows the directory.
func (d *dirNode) probe(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	key := d.keyPrefix() + name
	var (
		wg      sync.WaitGroup
		info    bucket.ObjectInfo
		headErr error
		isDir   bool
		dirErr  error
	)
	sent := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		isDir, dirErr = d.fsys.store.PrefixExists(ctx, key+"/")
	}()
	info, headErr = d.fsys.store.Head(ctx, key)
	wg.Wait()

	// What the probe found answers further lookups for StatTTL, like a listing.
	switch {
	case dirErr == nil && isDir:
		if headErr == nil {
			d.fsys.warnOnce(key, "object hidden: a directory of the same name is shown instead")
		}
		d.noteListed(name, bucket.Entry{Key: key + "/", Dir: true}, sent)
		return d.childFromEntry(ctx, name, bucket.Entry{Key: key + "/", Dir: true}, sent, out), 0
	case headErr == nil && parseMeta(info.Metadata).typeBits() == syscall.S_IFLNK:
		return d.symlinkChild(ctx, name, key, d.fsys.attrsFromHead(info, sent), out), 0
	case headErr == nil:
		d.noteListed(name, bucket.Entry{Key: key, Size: info.Size, ETag: info.ETag, LastModified: info.LastModified}, sent)
		return d.fileChild(ctx, name, key, d.fsys.attrsFromHead(info, sent), out), 0
	case errors.Is(headErr, bucket.ErrNotFound) && dirErr == nil:
		return nil, syscall.ENOENT
	case errors.Is(headErr, bucket.ErrNotFound):
		return nil, d.fsys.errno("lookup", key+"/", dirErr)
	}
	return nil, d.fsys.errno("lookup", key, headErr)
}

func (d *dirNode) childFromEntry(ctx context.Context, name string, e bucket.Entry, asOf time.Time, out *fuse.EntryOut) *gofs.Inode {
	if e.Dir {
		return d.dirChild(ctx, name, out)
	}
	// A listing cannot tell a link from a file; a link known as one stays one.
	if ch := d.GetChild(name); ch != nil {
		if l, ok := ch.Operations().(*symlinkNode); ok {
			l.mu.Lock()
			l.attrs.fill(&out.Attr)
			l.mu.Unlock()
			out.Mode = syscall.S_IFLNK | 0o777
			return ch
		}
	}
	return d.fileChild(ctx, name, e.Key, d.fsys.attrsFromListing(e, asOf), out)
}

// dirChild and fileChild reuse the node the tree already has for name when its kind
// matches, so inode numbers stay put and open files keep their node.
func (d *dirNode) dirChild(ctx context.Context, name string, out *fuse.EntryOut) *gofs.Inode {
	if ch := d.GetChild(name); ch != nil {
		if cd, ok := ch.Operations().(*dirNode); ok {
			cd.fill(&out.Attr)
			return ch
		}
	}
	cd := newDirNode(d.fsys, d.keyPrefix()+name+"/")
	cd.fill(&out.Attr)
	return d.NewInode(ctx, cd, gofs.StableAttr{Mode: syscall.S_IFDIR})
}

func (d *dirNode) fileChild(ctx context.Context, name, key string, a fileAttrs, out *fuse.EntryOut) *gofs.Inode {
	if ch := d.GetChild(name); ch != nil {
		if fn, ok := ch.Operations().(*fileNode); ok {
			fn.update(a, &out.Attr)
			return ch
		}
	}
	fn := &fileNode{fsys: d.fsys, key: key, attrs: a}
	a.fill(&out.Attr)
	return d.NewInode(ctx, fn, gofs.StableAttr{Mode: syscall.S_IFREG})
}

func (d *dirNode) symlinkChild(ctx context.Context, name, key string, a fileAttrs, out *fuse.EntryOut) *gofs.Inode {
	a.fill(&out.Attr)
	out.Mode = syscall.S_IFLNK | 0o777
	if ch := d.GetChild(name); ch != nil {
		if l, ok := ch.Operations().(*symlinkNode); ok {
			l.mu.Lock()
			l.attrs = a
			l.mu.Unlock()
			return ch
		}
	}
	return d.NewInode(ctx, &symlinkNode{fsys: d.fsys, key: key, attrs: a}, gofs.StableAttr{Mode: syscall.S_IFLNK})
}

// keyPrefix is the directory's prefix; a rename of the directory changes it.
func (d *dirNode) keyPrefix() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.prefix
}

// noteListed records what a listing or probe sent at at said of one child, or a change
// made here (at = now), unless something newer is known.
func (d *dirNode) noteListed(name string, e bucket.Entry, at time.Time) {
	d.note(name, listedChild{entry: e, at: at})
}

// forgetListed records that name was removed here.
func (d *dirNode) forgetListed(name string) {
	d.note(name, listedChild{gone: true, at: time.Now()})
}

func (d *dirNode) note(name string, c listedChild) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, ok := d.listed[name]
	if ok && old.at.After(c.at) {
		return
	}
	if c.ord == 0 {
		c.ord = old.ord
	}
	d.listed[name] = c
}

// goneSince reports whether name was removed here after at.
func (d *dirNode) goneSince(name string, at time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.listed[name]
	return ok && c.gone && c.at.After(at)
}

// localNames are the children that exist here but that a listing sent at start may not
// show (it showed those in seen): files created and not yet saved, and names made or
// moved here since start.
func (d *dirNode) localNames(start time.Time, seen map[string]listedChild) []listedChild {
	var out []listedChild
	for name, ch := range d.Children() {
		fn, ok := ch.Operations().(*fileNode)
		if _, listed := seen[name]; !ok || listed {
			continue
		}
		fn.mu.Lock()
		unsaved := fn.content != nil && !fn.unlinked
		key, size, at := fn.key, fn.attrs.size, fn.attrs.asOf
		fn.mu.Unlock()
		if unsaved {
			out = append(out, listedChild{entry: bucket.Entry{Key: key, Size: size}, at: at})
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, c := range d.listed {
		if _, listed := seen[name]; !listed && !c.gone && c.at.After(start) {
			if !slices.ContainsFunc(out, func(o listedChild) bool { return o.entry.Key == c.entry.Key }) {
				out = append(out, c)
			}
		}
	}
	return out
}

// listingDone replaces what is known with a complete listing sent at start, forgetting
// names that are gone, but keeping what changed here since start: the listing may not
// show it yet.
func (d *dirNode) listingDone(seen map[string]listedChild, start time.Time) {
	d.listingDoneInOrder(seen, nil, start)
}

// listingDoneInOrder is listingDone that also records the order in which the listing
// showed the files named in files.
func (d *dirNode) listingDoneInOrder(seen map[string]listedChild, files []string, start time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, c := range d.listed {
		if s, ok := seen[name]; c.at.After(start) && (!ok || c.at.After(s.at)) {
			seen[name] = c
		}
	}
	for name, c := range seen {
		if c.ord != 0 {
			c.ord = 0
			seen[name] = c
		}
	}
	for i, name := range files {
		if c, ok := seen[name]; ok {
			c.ord = i + 1
			seen[name] = c
		}
	}
	d.listed = seen
	d.order = files
	d.complete = start
}
