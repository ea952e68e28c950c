package fs

import (
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
)

// fileAttrs are what a file node knows of its object.
type fileAttrs struct {
	size     int64
	etag     string
	mtime    time.Time
	perm     uint32
	uid, gid uint32
	fromHead bool      // perm, uid, gid and mtime came from the object's metadata
	headAt   time.Time // when a HEAD last said so; zero if not from a HEAD
	// asOf is when these attributes were true: when the listing or HEAD that gave them
	// was sent, or when a change made here took effect. A node never takes attributes
	// older than those it has, so a listing that started before a save cannot bring
	// back the size and version the save replaced (the kernel would then pad or cut
	// reads of the new version to the old size).
	asOf time.Time
}

// attrsFromListing uses what a listing sent at asOf says: size and LastModified, with
// the mount's default owner and mode, since listings carry no user metadata.
func (f *FS) attrsFromListing(e bucket.Entry, asOf time.Time) fileAttrs {
	return fileAttrs{
		asOf:  asOf,
		size:  e.Size,
		etag:  e.ETag,
		mtime: e.LastModified,
		perm:  f.opts.FileMode,
		uid:   f.opts.UID,
		gid:   f.opts.GID,
	}
}

// attrsFromHead uses the answer of a HEAD sent at asOf, metadata included.
func (f *FS) attrsFromHead(info bucket.ObjectInfo, asOf time.Time) fileAttrs {
	m := parseMeta(info.Metadata)
	a := fileAttrs{
		size:     info.Size,
		etag:     info.ETag,
		mtime:    info.LastModified,
		perm:     m.permissions(f.opts.FileMode),
		uid:      f.opts.UID,
		gid:      f.opts.GID,
		fromHead: true,
		headAt:   asOf,
		asOf:     asOf,
	}
	if m.uid != nil {
		a.uid = *m.uid
	}
	if m.gid != nil {
		a.gid = *m.gid
	}
	if m.mtime != nil {
		a.mtime = *m.mtime
	}
	return a
}

func (a *fileAttrs) fill(out *fuse.Attr) {
	out.Mode = syscall.S_IFREG | a.perm
	out.Size = uint64(a.size)
	out.Blocks = (uint64(a.size) + 511) / 512
	out.Blksize = 1 << 20
	out.Nlink = 1
	out.Owner = fuse.Owner{Uid: a.uid, Gid: a.gid}
	out.SetTimes(&a.mtime, &a.mtime, &a.mtime)
}

func (f *FS) fillDir(out *fuse.Attr) {
	out.Mode = syscall.S_IFDIR | f.opts.DirMode
	out.Nlink = 2
	out.Blksize = 1 << 20
	out.Owner = fuse.Owner{Uid: f.opts.UID, Gid: f.opts.GID}
	out.SetTimes(&f.started, &f.started, &f.started)
}
