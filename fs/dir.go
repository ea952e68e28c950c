package fs

import (
	"context"
	"errors"
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
}

type listedChild struct {
	entry bucket.Entry
	at    time.Time
}

var (
	_ gofs.NodeLookuper  = (*dirNode)(nil)
	_ gofs.NodeReaddirer = (*dirNode)(nil)
	_ gofs.NodeGetattrer = (*dirNode)(nil)
)

func newDirNode(f *FS, prefix string) *dirNode {
	return &dirNode{fsys: f, prefix: prefix, listed: make(map[string]listedChild)}
}

func (d *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fsys.fillDir(&out.Attr)
	return 0
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if badName(name) != "" {
		return nil, syscall.ENOENT
	}
	// Requests are not tied to the kernel's request: a Go client's own SIGURG
	// interrupts it, and a half-done lookup helps nobody. The bucket bounds the time.
	ctx = context.WithoutCancel(ctx)
	if e, ok, complete := d.fromListing(name); ok {
		return d.childFromEntry(ctx, name, e, out), 0
	} else if complete {
		return nil, syscall.ENOENT
	}
	return d.probe(ctx, name, out)
}

// fromListing answers a lookup from a fresh listing: the entry if listed, and whether a
// complete listing is fresh enough to say that an unlisted name does not exist.
func (d *dirNode) fromListing(name string) (bucket.Entry, bool, bool) {
	ttl := d.fsys.opts.StatTTL
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.listed[name]; ok && time.Since(c.at) < ttl {
		return c.entry, true, false
	}
	return bucket.Entry{}, false, !d.complete.IsZero() && time.Since(d.complete) < ttl
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		isDir, dirErr = d.fsys.store.PrefixExists(ctx, key+"/")
	}()
	info, headErr = d.fsys.store.Head(ctx, key)
	wg.Wait()

	// What the probe found answers further lookups for StatTTL, like a listing.
	now := time.Now()
	switch {
	case dirErr == nil && isDir:
		if headErr == nil {
			d.fsys.warnOnce(key, "object hidden: a directory of the same name is shown instead")
		}
		d.noteListed(name, bucket.Entry{Key: key + "/", Dir: true}, now)
		return d.childFromEntry(ctx, name, bucket.Entry{Key: key + "/", Dir: true}, out), 0
	case headErr == nil && isSymlinkMode(parseMeta(info.Metadata).mode):
		return d.symlinkChild(ctx, name, key, d.fsys.attrsFromHead(info), out), 0
	case headErr == nil:
		d.noteListed(name, bucket.Entry{Key: key, Size: info.Size, ETag: info.ETag, LastModified: info.LastModified}, now)
		return d.fileChild(ctx, name, key, d.fsys.attrsFromHead(info), out), 0
	case errors.Is(headErr, bucket.ErrNotFound) && dirErr == nil:
		return nil, syscall.ENOENT
	case errors.Is(headErr, bucket.ErrNotFound):
		return nil, d.fsys.errno("lookup", key+"/", dirErr)
	}
	return nil, d.fsys.errno("lookup", key, headErr)
}

func (d *dirNode) childFromEntry(ctx context.Context, name string, e bucket.Entry, out *fuse.EntryOut) *gofs.Inode {
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
	return d.fileChild(ctx, name, e.Key, d.fsys.attrsFromListing(e), out)
}

// dirChild and fileChild reuse the node the tree already has for name when its kind
// matches, so inode numbers stay put and open files keep their node.
func (d *dirNode) dirChild(ctx context.Context, name string, out *fuse.EntryOut) *gofs.Inode {
	d.fsys.fillDir(&out.Attr)
	if ch := d.GetChild(name); ch != nil {
		if _, ok := ch.Operations().(*dirNode); ok {
			return ch
		}
	}
	return d.NewInode(ctx, newDirNode(d.fsys, d.keyPrefix()+name+"/"), gofs.StableAttr{Mode: syscall.S_IFDIR})
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

// noteListed records one child seen by a listing in progress.
func (d *dirNode) noteListed(name string, e bucket.Entry, at time.Time) {
	d.mu.Lock()
	d.listed[name] = listedChild{entry: e, at: at}
	d.mu.Unlock()
}

// listingDone replaces what is known with a complete listing, forgetting names that are
// gone.
func (d *dirNode) listingDone(seen map[string]listedChild) {
	d.mu.Lock()
	d.listed = seen
	d.complete = time.Now()
	d.mu.Unlock()
}
