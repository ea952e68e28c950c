package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/writeback"
)

var (
	_ gofs.NodeSetattrer = (*fileNode)(nil)
	_ gofs.NodeCreater   = (*dirNode)(nil)
)

// openWritable opens the file for writing (or O_RDONLY|O_TRUNC, which truncates, saves
// and then reads).
func (n *fileNode) openWritable(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if n.fsys.opts.ReadOnly {
		return nil, 0, syscall.EROFS
	}
	c, err := n.openForWrite(ctx)
	if err != nil {
		return nil, 0, n.fsys.errno("open", n.objectKey(), err)
	}
	if flags&syscall.O_ACCMODE == syscall.O_RDWR {
		c.KeepForReads()
	}
	if flags&syscall.O_TRUNC != 0 {
		n.cutOnFirstUse()
	}
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		// O_RDONLY|O_TRUNC: truncated and saved, then read-only.
		errno := n.sync(ctx)
		n.releaseWriter(ctx, c)
		return &readHandle{node: n}, 0, errno
	}
	return &writeHandle{node: n, file: c}, 0, 0
}

// cutOnFirstUse records an O_TRUNC open's truncation to 0. The kernel learns of it only
// when it has our answer to the open; a read another handle sent before then, answered
// short by an already-empty content, makes the kernel fill its pages with zeros under a
// size it may not shrink (another answer changed the attributes meanwhile), and that
// reader gets zeros no version had. So the content is cut by the first operation of a
// writer (cut), and until then other handles read it as it was; the size shows 0 at once.
func (n *fileNode) cutOnFirstUse() {
	now := time.Now()
	n.mu.Lock()
	n.cutPending = true
	n.attrs.size = 0
	n.attrs.mtime, n.attrs.ctime = now, now
	n.attrs.fromHead, n.attrs.asOf = true, now
	n.mu.Unlock()
}

// cut applies a pending O_TRUNC truncation to c before a writer uses it. cutMu makes a
// second writer wait until it is done, so its bytes are not cut away after it wrote.
func (n *fileNode) cut(c *writeback.File) error {
	n.cutMu.Lock()
	defer n.cutMu.Unlock()
	n.mu.Lock()
	pending := n.cutPending
	n.mu.Unlock()
	if !pending {
		return nil
	}
	if err := c.Truncate(0); err != nil {
		return err
	}
	n.mu.Lock()
	n.cutPending = false
	n.mu.Unlock()
	n.touch(c)
	return nil
}

// openForWrite makes sure the file has a shared content, based on the object's current
// version, and counts one more writer. releaseWriter undoes it.
func (n *fileNode) openForWrite(ctx context.Context) (*writeback.File, error) {
	n.mu.Lock()
	c, key := n.content, n.key
	n.mu.Unlock()
	if c == nil {
		etag, size := "", int64(0)
		info, err := n.head(ctx, key)
		switch {
		case err == nil:
			etag, size = info.ETag, info.Size
		case !errors.Is(err, bucket.ErrNotFound):
			return nil, err
		}
		fresh := n.fsys.writes.Open(key, etag, size, n.metadata)
		n.mu.Lock()
		if n.content == nil && n.key == key {
			n.content = fresh
			fresh = nil
		}
		c = n.content
		n.mu.Unlock()
		if fresh != nil {
			fresh.Drop() // another writer, or a rename, came first
			if c == nil {
				return n.openForWrite(ctx) // renamed meanwhile: start again at the new name
			}
		}
	}
	n.mu.Lock()
	n.writers++
	n.mu.Unlock()
	return c, nil
}

// releaseWriter lets go of one writer of c. The last one saves changes that a path
// counting on its close made after the last flush (a truncate whose release came
// after it), and drops the content once saved, unless a new writer took it since.
func (n *fileNode) releaseWriter(ctx context.Context, c *writeback.File) {
	n.mu.Lock()
	n.writers--
	last := n.writers == 0 && n.content == c
	n.mu.Unlock()
	if !last {
		return
	}
	n.mu.Lock()
	pending := n.cutPending
	n.mu.Unlock()
	if (c.Dirty() || pending) && !c.SaveFailed() {
		n.sync(ctx)
	}
	if c.Dirty() {
		// The save failed and said so to close or fsync; the kernel ignores what
		// Release says. Keep nothing half-sent behind.
		n.fsys.log.Error("closing with changes that were not saved", "object", n.objectKey())
	}
	n.mu.Lock()
	done := n.writers == 0 && n.content == c
	unsaved := done && c.Dirty()
	if done {
		n.content = nil
	}
	if unsaved {
		// The size and times are the dropped content's, not the object's: forget the
		// version, so that the next open asks S3 (a HEAD) what the file is, rather
		// than reading the old object as if it were as long as the content was.
		n.attrs.etag, n.attrs.headAt, n.kernelETag = "", time.Time{}, ""
	}
	n.mu.Unlock()
	if unsaved {
		n.NotifyContent(-1, 0) // and the kernel, its size and pages
	}
	if done {
		c.Drop()
	}
}

func (d *dirNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if d.fsys.opts.ReadOnly {
		return nil, nil, 0, syscall.EROFS
	}
	if errno := d.fsys.checkNewName(d.keyPrefix(), name, ""); errno != 0 {
		return nil, nil, 0, errno
	}
	key := d.keyPrefix() + name
	uid, gid := d.owner(ctx)
	now := time.Now()
	n := &fileNode{fsys: d.fsys, key: key, attrs: newFileAttrs(mode&0o7777, uid, gid, now), writers: 1}
	d.touchEntries()
	c := d.fsys.writes.Open(key, "", 0, n.metadata)
	c.MarkDirty() // an empty new file is still a file to create
	if flags&syscall.O_ACCMODE == syscall.O_RDWR {
		c.KeepForReads()
	}
	n.content = c
	n.attrs.fill(&out.Attr)
	inode := d.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFREG})
	d.noteListed(name, bucket.Entry{Key: key, LastModified: now}, now)
	return inode, &writeHandle{node: n, file: c}, 0, 0
}

// touch records a change of content: a new size, and mtime now.
func (n *fileNode) touch(c *writeback.File) {
	size := c.Size()
	now := time.Now()
	n.mu.Lock()
	n.attrs.size = size
	n.attrs.mtime, n.attrs.ctime = now, now
	n.attrs.fromHead = true
	n.attrs.asOf = now
	n.mu.Unlock()
}

// sync saves the content if it changed. When another writer replaced the object since
// it was opened, the content is saved beside it (writeback.ConflictError), and the
// caller is told EIO.
func (n *fileNode) sync(ctx context.Context) syscall.Errno {
	defer n.fsys.changing()()
	return n.save(ctx)
}

// save is sync for a caller that holds off renames itself (a rename).
func (n *fileNode) save(ctx context.Context) syscall.Errno {
	n.mu.Lock()
	c, unlinked := n.content, n.unlinked
	n.mu.Unlock()
	if c == nil || unlinked {
		return 0
	}
	if err := n.cut(c); err != nil {
		return n.fsys.errno("save", c.Key(), err)
	}
	saved, err := c.Save(ctx)
	if err != nil && saved.ETag != "" {
		n.savedAs(saved.ETag, saved.Size) // the content is saved, though not all is (its attributes)
	}
	var conflict *writeback.ConflictError
	switch {
	case errors.As(err, &conflict):
		// Always logged: the caller only sees EIO.
		n.fsys.log.Error(conflict.Error(), "object", conflict.Key, "saved_as", conflict.SavedAs)
		return syscall.EIO
	case err != nil:
		return n.fsys.errno("save", c.Key(), err)
	case saved.ETag != "":
		n.savedAs(saved.ETag, saved.Size)
	}
	return 0
}

// savedAs records the object just written, in the node and in its directory's listing,
// so lookups and reads see it at once.
func (n *fileNode) savedAs(etag string, size int64) {
	now := time.Now()
	n.mu.Lock()
	n.attrs.etag, n.attrs.size, n.attrs.fromHead, n.attrs.asOf = etag, size, true, now
	// The kernel's pages hold what was written through it: that is this version.
	n.kernelETag, n.ownETag = etag, etag
	key, mtime := n.key, n.attrs.mtime
	n.mu.Unlock()
	if name, parent := n.Parent(); parent != nil {
		if d, ok := parent.Operations().(*dirNode); ok {
			d.noteListed(name, bucket.Entry{Key: key, Size: size, ETag: etag, LastModified: mtime}, now)
		}
	}
}

func (n *fileNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	ctx = context.WithoutCancel(ctx)
	if size, ok := in.GetSize(); ok {
		if size > writeback.MaxObjectSize {
			return n.fsys.errno("truncate", n.objectKey(), writeback.ErrTooLarge)
		}
		if errno := n.truncate(ctx, int64(size)); errno != 0 {
			return errno
		}
	}
	if in.Valid&(fuse.FATTR_MODE|fuse.FATTR_UID|fuse.FATTR_GID|fuse.FATTR_MTIME|fuse.FATTR_ATIME|fuse.FATTR_MTIME_NOW|fuse.FATTR_ATIME_NOW) != 0 {
		if err := n.loadMeta(ctx); err != nil {
			return n.fsys.errno("setattr", n.objectKey(), err)
		}
	}
	if changed := n.setMetaAttrs(in); changed {
		if errno := n.persistMeta(ctx); errno != 0 {
			return errno
		}
	}
	n.mu.Lock()
	n.attrs.fill(&out.Attr)
	n.mu.Unlock()
	return 0
}

// truncate changes the size; without an open writer it is saved at once.
func (n *fileNode) truncate(ctx context.Context, size int64) syscall.Errno {
	c, err := n.openForWrite(ctx)
	if err != nil {
		return n.fsys.errno("truncate", n.objectKey(), err)
	}
	defer n.releaseWriter(ctx, c)
	if err := n.cut(c); err != nil {
		return n.fsys.errno("truncate", n.objectKey(), err)
	}
	if err := c.Truncate(size); err != nil {
		return n.fsys.errno("truncate", n.objectKey(), err)
	}
	n.touch(c)
	n.mu.Lock()
	alone := n.writers == 1
	n.mu.Unlock()
	if alone {
		return n.sync(ctx)
	}
	return 0
}

// setMetaAttrs applies mode, owner and mtime changes to the node; it reports whether
// anything changed.
func (n *fileNode) setMetaAttrs(in *fuse.SetAttrIn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	changed := n.attrs.setattr(in, now)
	if changed {
		n.attrs.fromHead = true
		n.attrs.asOf = now
	}
	return changed
}

// loadMeta makes sure the node holds the object's own metadata (a listing gives none),
// so that a change of one attribute does not write the mount's defaults over the others.
func (n *fileNode) loadMeta(ctx context.Context) error {
	n.mu.Lock()
	known := n.attrs.fromHead || n.content != nil
	key := n.key
	n.mu.Unlock()
	if known {
		return nil
	}
	_, err := n.head(ctx, key)
	return err
}

// persistMeta saves attributes: with the content if it has unsaved changes, else by a
// keyed self-copy that replaces the metadata.
func (n *fileNode) persistMeta(ctx context.Context) syscall.Errno {
	defer n.fsys.changing()()
	n.mu.Lock()
	c, cut := n.content, n.cutPending
	n.mu.Unlock()
	if c != nil && (c.Dirty() || cut) {
		c.MetaChanged()
		return 0 // saved with the content at flush (an O_TRUNC open's cut included)
	}
	n.mu.Lock()
	key, etag, size := n.key, n.attrs.etag, n.attrs.size
	n.mu.Unlock()
	if etag == "" {
		info, err := n.fsys.store.Head(ctx, key)
		if err != nil {
			return n.fsys.errno("setattr", key, err)
		}
		etag, size = info.ETag, info.Size
	}
	cond := bucket.Condition{IfMatch: etag}
	if n.fsys.opts.OverwriteConcurrent {
		cond = bucket.Condition{}
	}
	newETag, err := n.fsys.store.Copy(ctx, key, etag, size, key, n.metadata(), cond)
	if err != nil {
		return n.fsys.errno("setattr", key, err)
	}
	if c != nil {
		c.Rebased(etag, newETag)
	}
	n.savedAs(newETag, size)
	return 0
}
