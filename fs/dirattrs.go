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

// A directory's mode, owner, times and extended attributes live in its marker's
// metadata ("a/b/"), as s3fs keeps them. They are read from the marker when the
// directory itself is first asked for (stat, cd, ls of it), not for every directory a
// listing shows, which would cost a request each; until then, and for a prefix without
// a marker, the mount's defaults show. A change is kept in memory at once and written to
// the marker (which is created if the directory had none). Some servers (SeaweedFS)
// keep no metadata on keys ending in "/": there, what was set lasts as long as the mount.

var (
	_ gofs.NodeGetattrer = (*dirNode)(nil)
	_ gofs.NodeSetattrer = (*dirNode)(nil)
)

func (d *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.loadAttrs(context.WithoutCancel(ctx))
	d.fill(&out.Attr)
	return 0
}

// fill gives the kernel what is known now.
func (d *dirNode) fill(out *fuse.Attr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attrs.fillPosix(out, syscall.S_IFDIR)
	out.Nlink = 2
}

// loadAttrs reads the marker's metadata once. A marker that does not exist leaves the
// defaults; a failure leaves them too, and is tried again at the next Getattr.
func (d *dirNode) loadAttrs(ctx context.Context) {
	d.mu.Lock()
	prefix, known := d.prefix, d.attrsKnown
	d.mu.Unlock()
	if known || prefix == "" {
		return
	}
	info, err := d.fsys.store.Head(ctx, prefix)
	if err != nil && !errors.Is(err, bucket.ErrNotFound) {
		d.fsys.log.Debug("could not read a directory's attributes from its marker; showing the defaults", "dir", prefix, "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.attrsKnown || d.prefix != prefix {
		return // set here meanwhile, or moved
	}
	if err == nil {
		d.attrs.fromMeta(parseMeta(info.Metadata), d.fsys.started)
	}
	d.attrsKnown = true
}

// setKnownAttrs sets the attributes of a directory made here.
func (d *dirNode) setKnownAttrs(a posixAttrs) {
	d.mu.Lock()
	d.attrs, d.attrsKnown = a, true
	d.mu.Unlock()
}

// Setattr keeps mode, owner and times in memory at once and in the marker's metadata.
func (d *dirNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if d.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	ctx = context.WithoutCancel(ctx)
	d.loadAttrs(ctx)
	d.mu.Lock()
	old := d.attrs
	changed := d.attrs.setattr(in, time.Now())
	d.mu.Unlock()
	if changed {
		if errno := d.persistAttrs(ctx); errno != 0 {
			d.mu.Lock()
			d.attrs = old
			d.mu.Unlock()
			return errno
		}
	}
	d.fill(&out.Attr)
	return 0
}

// persistAttrs writes the attributes into the directory's marker. The root of the mount
// has no marker of its own (the bucket, or the prefix mounted): its attributes last as
// long as the mount.
func (d *dirNode) persistAttrs(ctx context.Context) syscall.Errno {
	defer d.fsys.changing()()
	d.mu.Lock()
	prefix, meta := d.prefix, d.attrs.meta(syscall.S_IFDIR)
	d.attrsKnown = true
	d.mu.Unlock()
	if prefix == "" || prefix == d.fsys.opts.Prefix {
		return 0
	}
	if metaSize(meta) > maxUserMeta {
		d.fsys.log.Warn("attributes do not fit in S3's 2 KB of user metadata", "dir", prefix, "bytes", metaSize(meta))
		return syscall.E2BIG
	}
	if _, err := d.fsys.store.Put(ctx, prefix, nil, meta, bucket.Condition{}); err != nil {
		return d.fsys.errno("setattr", prefix, err)
	}
	return 0
}

// touchEntries records that an entry was created, removed or renamed in the directory:
// its mtime and ctime move (in memory; the marker is not rewritten for every entry).
func (d *dirNode) touchEntries() {
	now := time.Now()
	d.mu.Lock()
	d.attrs.mtime, d.attrs.ctime = now, now
	d.mu.Unlock()
}
