package fs

import (
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
)

// posixAttrs are what a file or directory keeps in its object's user metadata, as s3fs
// keeps them: mode, owner, the three times and the extended attributes.
type posixAttrs struct {
	perm                uint32
	uid, gid            uint32
	atime, mtime, ctime time.Time
	xattrs              map[string][]byte // user.* names; nil when none
}

// meta encodes the attributes for an object of file type typ (S_IFREG, S_IFDIR, ...).
func (p *posixAttrs) meta(typ uint32) map[string]string {
	m := encodeMeta(typ|p.perm, p.uid, p.gid, p.mtime)
	m["atime"] = formatMtime(p.atime)
	m["ctime"] = formatMtime(p.ctime)
	if len(p.xattrs) > 0 {
		m["xattr"] = encodeXattrs(p.xattrs)
	}
	return m
}

// fromMeta takes what the object's metadata says, keeping the defaults where it says
// nothing; lastModified stands in for missing times.
func (p *posixAttrs) fromMeta(m objectMeta, lastModified time.Time) {
	p.perm = m.permissions(p.perm)
	if m.uid != nil {
		p.uid = *m.uid
	}
	if m.gid != nil {
		p.gid = *m.gid
	}
	p.mtime = lastModified
	if m.mtime != nil {
		p.mtime = *m.mtime
	}
	p.atime, p.ctime = p.mtime, p.mtime
	if m.atime != nil {
		p.atime = *m.atime
	}
	if m.ctime != nil {
		p.ctime = *m.ctime
	}
	p.xattrs = m.xattrs
}

// setattr applies the mode, owner and time changes of in; it reports whether anything
// changed. A change moves ctime.
func (p *posixAttrs) setattr(in *fuse.SetAttrIn, now time.Time) bool {
	changed := false
	if mode, ok := in.GetMode(); ok {
		p.perm, changed = mode&0o7777, true
	}
	if uid, ok := in.GetUID(); ok {
		p.uid, changed = uid, true
	}
	if gid, ok := in.GetGID(); ok {
		p.gid, changed = gid, true
	}
	if mtime, ok := in.GetMTime(); ok {
		p.mtime, changed = mtime, true
	}
	if atime, ok := in.GetATime(); ok {
		p.atime, changed = atime, true
	}
	if changed {
		p.ctime = now
	}
	return changed
}

// fillPosix fills the mode, owner and times of out.
func (p *posixAttrs) fillPosix(out *fuse.Attr, typ uint32) {
	out.Mode = typ | p.perm
	out.Owner = fuse.Owner{Uid: p.uid, Gid: p.gid}
	out.SetTimes(&p.atime, &p.mtime, &p.ctime)
	out.Blksize = 1 << 20
}

// maxUserMeta is S3's limit on user metadata: 2 KB, keys and values together; a little
// is kept for the save identifier the bucket adds (see bucket.SaveIDMeta).
const maxUserMeta = 2048 - 64

// metaSize is what m counts against maxUserMeta.
func metaSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

// fileAttrs are what a file node knows of its object.
type fileAttrs struct {
	posixAttrs
	size     int64
	etag     string
	fromHead bool      // perm, uid, gid, times and xattrs came from the object's metadata
	headAt   time.Time // when a HEAD last said so; zero if not from a HEAD
	// asOf is when these attributes were true: when the listing or HEAD that gave them
	// was sent, or when a change made here took effect. A node never takes attributes
	// older than those it has, so a listing that started before a save cannot bring
	// back the size and version the save replaced (the kernel would then pad or cut
	// reads of the new version to the old size).
	asOf time.Time
}

// newFileAttrs are the attributes of a file made here now.
func newFileAttrs(perm, uid, gid uint32, now time.Time) fileAttrs {
	return fileAttrs{
		posixAttrs: posixAttrs{perm: perm, uid: uid, gid: gid, atime: now, mtime: now, ctime: now},
		fromHead:   true,
		asOf:       now,
	}
}

// attrsFromListing uses what a listing sent at asOf says: size and LastModified, with
// the mount's default owner and mode, since listings carry no user metadata.
func (f *FS) attrsFromListing(e bucket.Entry, asOf time.Time) fileAttrs {
	t := e.LastModified
	return fileAttrs{
		posixAttrs: posixAttrs{perm: f.opts.FileMode, uid: f.opts.UID, gid: f.opts.GID, atime: t, mtime: t, ctime: t},
		asOf:       asOf,
		size:       e.Size,
		etag:       e.ETag,
	}
}

// attrsFromHead uses the answer of a HEAD sent at asOf, metadata included.
func (f *FS) attrsFromHead(info bucket.ObjectInfo, asOf time.Time) fileAttrs {
	a := fileAttrs{
		posixAttrs: posixAttrs{perm: f.opts.FileMode, uid: f.opts.UID, gid: f.opts.GID},
		size:       info.Size,
		etag:       info.ETag,
		fromHead:   true,
		headAt:     asOf,
		asOf:       asOf,
	}
	a.fromMeta(parseMeta(info.Metadata), info.LastModified)
	return a
}

func (a *fileAttrs) fill(out *fuse.Attr) {
	a.fillPosix(out, syscall.S_IFREG)
	out.Size = uint64(a.size)
	out.Blocks = (uint64(a.size) + 511) / 512
	out.Nlink = 1
}
