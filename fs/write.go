package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
)

var (
	_ gofs.NodeWriter    = (*fileNode)(nil)
	_ gofs.NodeFlusher   = (*fileNode)(nil)
	_ gofs.NodeFsyncer   = (*fileNode)(nil)
	_ gofs.NodeReleaser  = (*fileNode)(nil)
	_ gofs.NodeSetattrer = (*fileNode)(nil)
	_ gofs.NodeCreater   = (*dirNode)(nil)
)

// openForWrite makes sure the file has a shared content, based on the object's current
// version, and counts one more writer.
func (n *fileNode) openForWrite(ctx context.Context) (*content, error) {
	n.mu.Lock()
	c := n.content
	n.mu.Unlock()
	if c == nil {
		etag, size := "", int64(0)
		info, err := n.head(ctx, n.objectKey())
		switch {
		case err == nil:
			etag, size = info.ETag, info.Size
		case !errors.Is(err, bucket.ErrNotFound):
			return nil, err
		}
		n.mu.Lock()
		if n.content == nil {
			n.content = newContent(n, n.key, etag, size)
		}
		c = n.content
		n.mu.Unlock()
	}
	n.mu.Lock()
	n.writers++
	n.mu.Unlock()
	return c, nil
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
	n := &fileNode{fsys: d.fsys, key: key, attrs: newFileAttrs(mode&0o7777, uid, gid, now)}
	d.touchEntries()
	n.content = newContent(n, key, "", 0)
	n.content.markDirty() // an empty new file is still a file to create
	if flags&syscall.O_ACCMODE == syscall.O_RDWR {
		n.content.keepForReads()
	}
	n.writers = 1
	n.attrs.fill(&out.Attr)
	inode := d.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFREG})
	d.noteListed(name, bucket.Entry{Key: key, LastModified: now}, now)
	return inode, &openFile{node: n, writable: true}, 0, 0
}

func (n *fileNode) Write(ctx context.Context, fh gofs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	h, ok := fh.(*openFile)
	if !ok || !h.writable {
		return 0, syscall.EBADF
	}
	n.mu.Lock()
	c := n.content
	n.mu.Unlock()
	if err := c.write(context.WithoutCancel(ctx), data, off); err != nil {
		return 0, n.fsys.errno("write", n.objectKey(), err)
	}
	n.touch(c)
	return uint32(len(data)), 0
}

// touch records a change of content: a new size, and mtime now.
func (n *fileNode) touch(c *content) {
	c.mu.Lock()
	size := c.size
	c.mu.Unlock()
	now := time.Now()
	n.mu.Lock()
	n.attrs.size = size
	n.attrs.mtime, n.attrs.ctime = now, now
	n.attrs.fromHead = true
	n.attrs.asOf = now
	n.mu.Unlock()
}

// Flush runs on every close. Unsaved changes are uploaded here, so that close reports
// whether the data reached S3.
func (n *fileNode) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	if h, ok := fh.(*openFile); !ok || !h.writable {
		return 0
	}
	return n.sync(context.WithoutCancel(ctx))
}

func (n *fileNode) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	return n.sync(context.WithoutCancel(ctx))
}

// Release drops the file's pages once its last writer is gone and they are saved.
func (n *fileNode) Release(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	h, ok := fh.(*openFile)
	if !ok {
		return 0
	}
	n.mu.Lock()
	r := h.reader
	n.mu.Unlock()
	if r != nil {
		r.Close() // stop reading ahead for a handle that is gone
	}
	if !h.writable {
		return 0
	}
	n.mu.Lock()
	n.writers--
	c := n.content
	last := n.writers == 0
	n.mu.Unlock()
	if !last || c == nil {
		return 0
	}
	if dirty, _ := c.snapshot(); dirty && !c.saveFailed() {
		// Changed after the last flush, by a path that counted on this handle's close
		// to save (a truncate whose release came after it): save now.
		n.sync(context.WithoutCancel(ctx))
	}
	if dirty, _ := c.snapshot(); dirty {
		// The save failed and said so to close or fsync; the kernel ignores what
		// Release says. Keep nothing half-sent behind.
		n.fsys.log.Error("closing with changes that were not saved", "object", n.objectKey())
	}
	// A new writer may have opened the file since: then the content is its, and stays.
	n.mu.Lock()
	done := n.writers == 0 && n.content == c
	if done {
		n.content = nil
	}
	n.mu.Unlock()
	if done {
		c.drop()
	}
	return 0
}

// sync saves the content if it changed. When another writer replaced the object since
// it was opened (412), the new content is saved beside it as NAME.conflict-<UTC time>,
// and the caller is told EIO.
func (n *fileNode) sync(ctx context.Context) syscall.Errno {
	n.mu.Lock()
	c, key, unlinked := n.content, n.key, n.unlinked
	n.mu.Unlock()
	if c == nil || unlinked {
		return 0
	}
	n.saveMu.Lock()
	defer n.saveMu.Unlock()
	dirty, gen := c.snapshot()
	if !dirty {
		return 0
	}
	cond := n.writeCondition(c)
	meta := n.metadata()
	etag, size, err := c.save(ctx, key, meta, cond)
	if errors.Is(err, bucket.ErrChanged) && cond != (bucket.Condition{}) {
		c.setSaveFailed(true)
		return n.saveConflict(ctx, c, meta)
	}
	if err != nil {
		c.setSaveFailed(true)
		return n.fsys.errno("save", key, err)
	}
	c.setSaveFailed(false)
	c.saved(etag, size, gen)
	n.savedAs(etag, size)
	return 0
}

// writeCondition makes a save fail if another writer got there first: replacing sends
// If-Match with the version this file started from, creating sends If-None-Match.
func (n *fileNode) writeCondition(c *content) bucket.Condition {
	if n.fsys.opts.OverwriteConcurrent {
		return bucket.Condition{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.baseETag == "" {
		return bucket.Condition{IfNoneMatch: true}
	}
	return bucket.Condition{IfMatch: c.baseETag}
}

func (n *fileNode) saveConflict(ctx context.Context, c *content, meta map[string]string) syscall.Errno {
	conflict := n.key + ".conflict-" + time.Now().UTC().Format("20060102T150405.000Z")
	_, _, err := c.save(ctx, conflict, meta, bucket.Condition{IfNoneMatch: true})
	if err != nil {
		n.fsys.log.Error("another writer replaced the object since it was opened, and this version could not be saved beside it",
			"object", n.key, "err", err)
		return syscall.EIO
	}
	n.fsys.log.Error("another writer replaced the object since it was opened; this version was saved beside it",
		"object", n.key, "saved_as", conflict)
	c.mu.Lock()
	c.dirty = false // saved, if not where it was meant to go
	c.mu.Unlock()
	return syscall.EIO
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
		if size > maxObjectSize {
			return n.fsys.errno("truncate", n.objectKey(), errTooLarge)
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
	defer n.Release(ctx, &openFile{node: n, writable: true})
	if err := c.truncate(size); err != nil {
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
	n.mu.Lock()
	c := n.content
	n.mu.Unlock()
	if c != nil {
		if dirty, _ := c.snapshot(); dirty {
			return 0 // saved with the content at flush
		}
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
		c.mu.Lock()
		if c.baseETag == etag {
			c.baseETag = newETag
		}
		c.mu.Unlock()
	}
	n.savedAs(newETag, size)
	return 0
}
