package fs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
)

var (
	_ gofs.NodeMkdirer   = (*dirNode)(nil)
	_ gofs.NodeRmdirer   = (*dirNode)(nil)
	_ gofs.NodeUnlinker  = (*dirNode)(nil)
	_ gofs.NodeRenamer   = (*dirNode)(nil)
	_ gofs.NodeSymlinker = (*dirNode)(nil)
	_ gofs.NodeLinker    = (*dirNode)(nil)
	_ gofs.NodeMknoder   = (*dirNode)(nil)
)

// owner is the caller of a request, who owns what it creates.
func (d *dirNode) owner(ctx context.Context) (uid, gid uint32) {
	if caller, ok := fuse.FromContext(ctx); ok && caller != nil {
		return caller.Uid, caller.Gid
	}
	return d.fsys.opts.UID, d.fsys.opts.GID
}

// Mkdir writes a keyed zero-length marker "dir/", as s3fs and rclone do.
func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	defer d.fsys.changing()()
	if d.fsys.opts.ReadOnly {
		return nil, syscall.EROFS
	}
	if errno := d.fsys.checkNewName(d.keyPrefix(), name, "/"); errno != 0 {
		return nil, errno
	}
	key := d.keyPrefix() + name + "/"
	uid, gid := d.owner(ctx)
	now := time.Now()
	attrs := posixAttrs{perm: mode & 0o7777, uid: uid, gid: gid, atime: now, mtime: now, ctime: now}
	meta := attrs.meta(syscall.S_IFDIR)
	if _, err := d.fsys.store.Put(context.WithoutCancel(ctx), key, nil, meta, bucket.Condition{IfNoneMatch: true}); err != nil {
		if errors.Is(err, bucket.ErrChanged) {
			return nil, syscall.EEXIST
		}
		return nil, d.fsys.errno("mkdir", key, err)
	}
	d.noteListed(name, bucket.Entry{Key: key, Dir: true}, now)
	d.touchEntries()
	child := d.dirChild(ctx, name, out)
	// The kernel looked the name up before asking: nothing was under it. So the new
	// directory is known empty, and creating files in it needs no lookups of S3.
	if nd, ok := child.Operations().(*dirNode); ok {
		nd.listingDone(make(map[string]listedChild), now)
		nd.setKnownAttrs(attrs)
		nd.fill(&out.Attr)
	}
	return child, 0
}

// Rmdir removes an empty directory's marker.
func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	defer d.fsys.changing()()
	if d.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	ctx = context.WithoutCancel(ctx)
	prefix := d.keyPrefix() + name + "/"
	entries, _, err := d.fsys.store.ListPage(ctx, prefix, "")
	if err != nil {
		return d.fsys.errno("rmdir", prefix, err)
	}
	if len(entries) > 0 {
		return syscall.ENOTEMPTY
	}
	if err := d.fsys.store.Delete(ctx, prefix); err != nil {
		return d.fsys.errno("rmdir", prefix, err)
	}
	d.forgetListed(name)
	d.touchEntries()
	return 0
}

// Unlink deletes the object. A file still open is not saved again.
func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	defer d.fsys.changing()()
	if d.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	key := d.keyPrefix() + name
	if ch := d.GetChild(name); ch != nil {
		if n, ok := ch.Operations().(*fileNode); ok {
			n.mu.Lock()
			n.unlinked = true
			n.mu.Unlock()
		}
	}
	if err := d.fsys.store.Delete(context.WithoutCancel(ctx), key); err != nil {
		return d.fsys.errno("unlink", key, err)
	}
	d.forgetListed(name)
	d.touchEntries()
	return 0
}

func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	defer d.fsys.changing()()
	if d.fsys.opts.ReadOnly {
		return nil, syscall.EROFS
	}
	if errno := d.fsys.checkNewName(d.keyPrefix(), name, ""); errno != 0 {
		return nil, errno
	}
	key := d.keyPrefix() + name
	uid, gid := d.owner(ctx)
	now := time.Now()
	meta := encodeMeta(syscall.S_IFLNK|0o777, uid, gid, now)
	etag, err := d.fsys.store.Put(context.WithoutCancel(ctx), key, []byte(target), meta, bucket.Condition{IfNoneMatch: true})
	if err != nil {
		if errors.Is(err, bucket.ErrChanged) {
			return nil, syscall.EEXIST
		}
		return nil, d.fsys.errno("symlink", key, err)
	}
	l := &symlinkNode{fsys: d.fsys, key: key, target: target, attrs: newFileAttrs(0o777, uid, gid, now)}
	l.attrs.size, l.attrs.etag = int64(len(target)), etag
	d.touchEntries()
	l.attrs.fill(&out.Attr)
	out.Mode = syscall.S_IFLNK | 0o777
	d.noteListed(name, bucket.Entry{Key: key, Size: int64(len(target)), ETag: etag, LastModified: now}, now)
	return d.NewInode(ctx, l, gofs.StableAttr{Mode: syscall.S_IFLNK}), 0
}

// Hard links have no counterpart in S3.
func (d *dirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if d.fsys.opts.ReadOnly {
		return nil, syscall.EROFS
	}
	return nil, syscall.EPERM
}

// Mknod of a regular file makes an empty object, as some tools create files; fifos,
// sockets and devices have no counterpart in S3.
func (d *dirNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	defer d.fsys.changing()()
	if d.fsys.opts.ReadOnly {
		return nil, syscall.EROFS
	}
	if mode&syscall.S_IFMT != syscall.S_IFREG && mode&syscall.S_IFMT != 0 {
		return nil, syscall.EPERM
	}
	if errno := d.fsys.checkNewName(d.keyPrefix(), name, ""); errno != 0 {
		return nil, errno
	}
	key := d.keyPrefix() + name
	uid, gid := d.owner(ctx)
	now := time.Now()
	perm := mode & 0o7777
	etag, err := d.fsys.store.Put(context.WithoutCancel(ctx), key, nil, encodeMeta(syscall.S_IFREG|perm, uid, gid, now), bucket.Condition{IfNoneMatch: true})
	if err != nil {
		if errors.Is(err, bucket.ErrChanged) {
			return nil, syscall.EEXIST
		}
		return nil, d.fsys.errno("mknod", key, err)
	}
	n := &fileNode{fsys: d.fsys, key: key, attrs: newFileAttrs(perm, uid, gid, now)}
	n.attrs.etag = etag
	n.attrs.fill(&out.Attr)
	d.touchEntries()
	d.noteListed(name, bucket.Entry{Key: key, ETag: etag, LastModified: now}, now)
	return d.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFREG}), 0
}

// forgetListing drops the whole listing: the directory moved, and its keys with it.
func (d *dirNode) forgetListing() {
	d.mu.Lock()
	d.listed = make(map[string]listedChild)
	d.complete = time.Time{}
	d.mu.Unlock()
}

// Rename moves an object with a keyed server-side copy and a delete. A directory moves
// every object under its prefix: all are copied before any is deleted, so an
// interruption leaves every object under at least one of the two names.
func (d *dirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	defer d.fsys.renaming()()
	if d.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	const renameExchange = 2 // RENAME_EXCHANGE
	if flags&renameExchange != 0 {
		return syscall.EINVAL
	}
	nd, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EINVAL
	}
	if errno := d.fsys.checkNewName(nd.keyPrefix(), newName, ""); errno != 0 {
		return errno
	}
	ctx = context.WithoutCancel(ctx)
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	switch node := ch.Operations().(type) {
	case *fileNode:
		if errno := node.save(ctx); errno != 0 {
			return errno
		}
		// A node known from a listing only (the kernel may have forgotten the one
		// that held the object's metadata) has none of it: read it, so that the
		// copy moves ctime and keeps the rest, rather than keeping the source's ctime.
		if err := node.loadMeta(ctx); err != nil {
			return d.fsys.errno("rename", node.objectKey(), err)
		}
		return d.renameObject(ctx, node, name, nd, newName)
	case *symlinkNode:
		return d.renameObject(ctx, node, name, nd, newName)
	case *dirNode:
		return d.renameDir(ctx, node, name, nd, newName)
	}
	return syscall.EINVAL
}

// movable is a node whose object a rename moves: a file or a symlink.
type movable interface {
	// moving says what to copy: the object, its version, size and mtime, and the
	// metadata of the copy (nil keeps the source's), for a rename at now.
	moving(now time.Time) (src, etag string, size int64, mtime time.Time, meta map[string]string)
	// movedTo records the object's new key and version.
	movedTo(dst, etag string, now time.Time)
}

// renameObject moves the object of node m, a child name of d, to newName in nd.
func (d *dirNode) renameObject(ctx context.Context, m movable, name string, nd *dirNode, newName string) syscall.Errno {
	now := time.Now()
	src, etag, size, mtime, meta := m.moving(now)
	dst := nd.keyPrefix() + newName
	newETag, errno := d.moveObject(ctx, src, etag, size, dst, meta)
	if errno != 0 {
		return errno
	}
	m.movedTo(dst, newETag, now)
	d.forgetListed(name)
	d.touchEntries()
	nd.touchEntries()
	nd.noteListed(newName, bucket.Entry{Key: dst, Size: size, ETag: newETag, LastModified: mtime}, time.Now())
	return 0
}

// moving: a rename is a change of the file, so its ctime moves, in the copy's metadata
// too when the node holds the object's own (else the copy keeps the source's).
func (n *fileNode) moving(now time.Time) (string, string, int64, time.Time, map[string]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var meta map[string]string
	if n.attrs.fromHead {
		moved := n.attrs.posixAttrs
		moved.ctime = now
		meta = moved.meta(syscall.S_IFREG)
	}
	return n.key, n.attrs.etag, n.attrs.size, n.attrs.mtime, meta
}

// movedTo: open handles and unsaved content follow the file to its new name.
func (n *fileNode) movedTo(dst, etag string, now time.Time) {
	n.mu.Lock()
	n.key = dst
	n.attrs.etag, n.attrs.asOf, n.attrs.ctime = etag, now, now
	n.ownETag = etag
	c := n.content
	n.mu.Unlock()
	if c != nil {
		c.Moved(dst, etag)
	}
}

func (l *symlinkNode) moving(now time.Time) (string, string, int64, time.Time, map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.key, l.attrs.etag, l.attrs.size, now, nil
}

func (l *symlinkNode) movedTo(dst, etag string, now time.Time) {
	l.mu.Lock()
	l.key, l.attrs.etag = dst, etag
	l.mu.Unlock()
}

// moveObject copies src to dst (re-encrypted under the current key; with meta as its
// metadata, or nil to carry the source's) and then deletes src.
func (d *dirNode) moveObject(ctx context.Context, src, etag string, size int64, dst string, meta map[string]string) (string, syscall.Errno) {
	if etag == "" {
		info, err := d.fsys.store.Head(ctx, src)
		if err != nil {
			return "", d.fsys.errno("rename", src, err)
		}
		etag, size = info.ETag, info.Size
	}
	newETag, err := d.fsys.store.Copy(ctx, src, etag, size, dst, meta, bucket.Condition{})
	if err != nil {
		return "", d.fsys.errno("rename", src, err)
	}
	if err := d.fsys.store.Delete(ctx, src); err != nil {
		d.fsys.log.Error("rename copied the object but could not delete the old name; both exist", "from", src, "to", dst, "err", err)
		return "", syscall.EIO
	}
	return newETag, 0
}

func (d *dirNode) renameDir(ctx context.Context, dn *dirNode, name string, nd *dirNode, newName string) syscall.Errno {
	from, to := d.keyPrefix()+name+"/", nd.keyPrefix()+newName+"/"
	if strings.HasPrefix(to, from) {
		return syscall.EINVAL // into itself
	}
	if entries, _, err := d.fsys.store.ListPage(ctx, to, ""); err != nil {
		return d.fsys.errno("rename", to, err)
	} else if len(entries) > 0 {
		return syscall.ENOTEMPTY
	}
	if errno := syncTree(ctx, &dn.Inode); errno != 0 {
		return errno
	}
	var objects []bucket.Entry
	if err := d.fsys.store.ListAll(ctx, from, func(page []bucket.Entry) error {
		objects = append(objects, page...)
		return nil
	}); err != nil {
		return d.fsys.errno("rename", from, err)
	}
	// Copy all, then delete all: an interruption never loses an object. Files go
	// first, several at once; directory markers after, one at a time (a server may
	// create a directory implicitly for a file, and race a marker written alongside).
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []string
	)
	copied := make(map[string]string) // new key -> the copy's ETag
	move := func(o bucket.Entry) {
		dst := to + strings.TrimPrefix(o.Key, from)
		var (
			etag string
			err  error
		)
		if isMarker(o) {
			// A marker has no content to copy: write it anew (some servers refuse
			// to copy keys ending in "/"), with the directory's attributes.
			_, err = d.fsys.store.Put(ctx, dst, nil, d.markerMeta(ctx, dn, from, o.Key), bucket.Condition{})
		} else {
			etag, err = d.fsys.store.Copy(ctx, o.Key, o.ETag, o.Size, dst, nil, bucket.Condition{})
		}
		if err == nil && etag != "" {
			mu.Lock()
			copied[dst] = etag
			mu.Unlock()
		}
		if err != nil {
			d.fsys.log.Error("rename: copy failed", "from", o.Key, "to", dst, "err", err)
			mu.Lock()
			failed = append(failed, o.Key)
			mu.Unlock()
		}
	}
	for _, o := range objects {
		if isMarker(o) {
			continue
		}
		d.fsys.uploadSlots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-d.fsys.uploadSlots }()
			move(o)
		}()
	}
	wg.Wait()
	for _, o := range objects {
		if isMarker(o) {
			move(o)
		}
	}
	if len(failed) > 0 {
		d.fsys.log.Error("rename of a directory stopped before deleting anything: every object is still under the old name, some also under the new",
			"from", from, "to", to, "failed", len(failed), "objects", len(objects))
		return syscall.EIO
	}
	for _, o := range objects {
		if err := d.fsys.store.Delete(ctx, o.Key); err != nil {
			d.fsys.log.Error("rename: copied but could not delete the old name; it exists under both", "from", o.Key, "err", err)
		}
	}
	if len(objects) == 0 {
		// A directory with nothing in it exists only as the new marker.
		if _, err := d.fsys.store.Put(ctx, to, nil, d.markerMeta(ctx, dn, from, from), bucket.Condition{}); err != nil {
			return d.fsys.errno("rename", to, err)
		}
	}
	retarget(&dn.Inode, from, to, copied)
	d.forgetListed(name)
	d.touchEntries()
	nd.touchEntries()
	nd.noteListed(newName, bucket.Entry{Key: to, Dir: true}, time.Now())
	return 0
}

// markerMeta is the metadata for the new marker of marker, moving with the directory dn
// (whose own marker is from): dn's attributes for its own, with ctime now; the old
// marker's metadata for one below it.
func (d *dirNode) markerMeta(ctx context.Context, dn *dirNode, from, marker string) map[string]string {
	if marker == from {
		dn.loadAttrs(ctx)
		dn.mu.Lock()
		defer dn.mu.Unlock()
		dn.attrs.ctime = time.Now()
		return dn.attrs.meta(syscall.S_IFDIR)
	}
	info, err := d.fsys.store.Head(ctx, marker)
	if err != nil {
		return nil
	}
	return info.Metadata
}

// syncTree saves every file with unsaved changes under a directory about to move.
func syncTree(ctx context.Context, in *gofs.Inode) syscall.Errno {
	for _, ch := range in.Children() {
		switch node := ch.Operations().(type) {
		case *fileNode:
			if errno := node.save(ctx); errno != 0 {
				return errno
			}
		case *dirNode:
			if errno := syncTree(ctx, ch); errno != 0 {
				return errno
			}
		}
	}
	return 0
}

// retarget rewrites the keys of the nodes under a moved directory; copied gives the
// new version of each object copied (a file with unsaved content bases it on that).
func retarget(in *gofs.Inode, from, to string, copied map[string]string) {
	switch node := in.Operations().(type) {
	case *dirNode:
		node.mu.Lock()
		node.prefix = to + strings.TrimPrefix(node.prefix, from)
		node.mu.Unlock()
		node.forgetListing()
	case *fileNode:
		node.mu.Lock()
		node.key = to + strings.TrimPrefix(node.key, from)
		key := node.key
		node.attrs.etag = copied[key] // "" if unknown: learned again on open
		node.attrs.asOf = time.Now()
		c := node.content
		node.mu.Unlock()
		if c != nil {
			c.Moved(key, copied[key])
		}
	case *symlinkNode:
		node.mu.Lock()
		node.key = to + strings.TrimPrefix(node.key, from)
		node.attrs.etag = ""
		node.mu.Unlock()
	}
	for _, ch := range in.Children() {
		retarget(ch, from, to, copied)
	}
}

// isMarker reports whether a listed object is a directory marker.
func isMarker(o bucket.Entry) bool { return strings.HasSuffix(o.Key, "/") && o.Size == 0 }
