package fs

import (
	"context"
	"sort"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// Extended attributes of files and directories: user.* names are kept in the object's
// metadata (x-amz-meta-xattr, see xattrmeta.go), within S3's 2 KB of user metadata.
// Other namespaces (system.* for POSIX ACLs, security.* for capabilities and labels,
// trusted.*) answer EOPNOTSUPP, so cp -a, mv and rsync -X fall back quietly.

var (
	_ gofs.NodeGetxattrer    = (*fileNode)(nil)
	_ gofs.NodeSetxattrer    = (*fileNode)(nil)
	_ gofs.NodeRemovexattrer = (*fileNode)(nil)
	_ gofs.NodeListxattrer   = (*fileNode)(nil)
	_ gofs.NodeGetxattrer    = (*dirNode)(nil)
	_ gofs.NodeSetxattrer    = (*dirNode)(nil)
	_ gofs.NodeRemovexattrer = (*dirNode)(nil)
	_ gofs.NodeListxattrer   = (*dirNode)(nil)
)

const (
	xattrCreate  = 1 // XATTR_CREATE: fail if the name exists
	xattrReplace = 2 // XATTR_REPLACE: fail if it does not
)

// xattrNameErrno says whether name is one this filesystem keeps.
func xattrNameErrno(name string) syscall.Errno {
	switch {
	case !strings.HasPrefix(name, "user.") || len(name) == len("user."):
		return syscall.EOPNOTSUPP
	case len(name) > maxNameLen:
		return syscall.ERANGE
	}
	return 0
}

// xattrValue answers getxattr: ERANGE with the size when dest is too small (or empty,
// which asks for the size).
func xattrValue(v []byte, ok bool, dest []byte) (uint32, syscall.Errno) {
	if !ok {
		return 0, syscall.ENODATA
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

// xattrList answers listxattr: the names, each ended by NUL.
func xattrList(x map[string][]byte, dest []byte) (uint32, syscall.Errno) {
	names := make([]string, 0, len(x))
	size := 0
	for name := range x {
		names = append(names, name)
		size += len(name) + 1
	}
	if len(dest) < size {
		return uint32(size), syscall.ERANGE
	}
	sort.Strings(names)
	off := 0
	for _, name := range names {
		off += copy(dest[off:], name)
		dest[off] = 0
		off++
	}
	return uint32(size), 0
}

// changedXattrs is x with attr set to data (or removed), as setxattr's flags allow.
func changedXattrs(x map[string][]byte, attr string, data []byte, flags uint32, remove bool) (map[string][]byte, syscall.Errno) {
	_, exists := x[attr]
	switch {
	case remove && !exists, !remove && flags&xattrReplace != 0 && !exists:
		return nil, syscall.ENODATA
	case !remove && flags&xattrCreate != 0 && exists:
		return nil, syscall.EEXIST
	}
	out := make(map[string][]byte, len(x)+1)
	for k, v := range x {
		out[k] = v
	}
	if remove {
		delete(out, attr)
	} else {
		out[attr] = append([]byte(nil), data...)
	}
	return out, 0
}

// fitsMeta checks that attributes with these xattrs fit in S3's user metadata.
func (f *FS) fitsMeta(p posixAttrs, typ uint32, object string) syscall.Errno {
	if size := metaSize(p.meta(typ)); size > maxUserMeta {
		f.log.Warn("extended attributes do not fit in S3's 2 KB of user metadata; not set",
			"object", object, "bytes", size, "limit", maxUserMeta)
		return syscall.E2BIG
	}
	return 0
}

// xattrOwner is a node whose attributes hold extended attributes: a file or a
// directory. One set of rules serves both.
type xattrOwner interface {
	// loadAttrsErrno makes sure the node holds its object's own metadata.
	loadAttrsErrno(ctx context.Context, op string) syscall.Errno
	// withAttrs runs fn on the node's attributes with its lock held; fn reports
	// whether it changed them.
	withAttrs(fn func(p *posixAttrs) bool)
	// persistAttrsErrno writes the attributes to the node's object.
	persistAttrsErrno(ctx context.Context) syscall.Errno
	// xattrTarget names the object and its file type, for the size check.
	xattrTarget() (fsys *FS, object string, typ uint32)
}

func getXattr(o xattrOwner, ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if errno := xattrNameErrno(attr); errno != 0 {
		return 0, errno
	}
	if errno := o.loadAttrsErrno(context.WithoutCancel(ctx), "getxattr"); errno != 0 {
		return 0, errno
	}
	var v []byte
	var ok bool
	o.withAttrs(func(p *posixAttrs) bool { v, ok = p.xattrs[attr]; return false })
	return xattrValue(v, ok, dest)
}

func listXattr(o xattrOwner, ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if errno := o.loadAttrsErrno(context.WithoutCancel(ctx), "listxattr"); errno != 0 {
		return 0, errno
	}
	var n uint32
	var errno syscall.Errno
	o.withAttrs(func(p *posixAttrs) bool { n, errno = xattrList(p.xattrs, dest); return false })
	return n, errno
}

// changeXattr sets or removes one attribute: in memory, then in the object's metadata
// (for a file by a keyed self-copy, or with its content at its save if it has unsaved
// changes; for a directory in its marker). A failure leaves the attributes as they were.
func changeXattr(o xattrOwner, ctx context.Context, attr string, data []byte, flags uint32, remove bool) syscall.Errno {
	fsys, object, typ := o.xattrTarget()
	if fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	if errno := xattrNameErrno(attr); errno != 0 {
		return errno
	}
	ctx = context.WithoutCancel(ctx)
	if errno := o.loadAttrsErrno(ctx, "setxattr"); errno != 0 {
		return errno
	}
	var old posixAttrs
	var errno syscall.Errno
	o.withAttrs(func(p *posixAttrs) bool {
		old = *p
		var x map[string][]byte
		if x, errno = changedXattrs(p.xattrs, attr, data, flags, remove); errno != 0 {
			return false
		}
		next := *p
		next.xattrs = x
		if errno = fsys.fitsMeta(next, typ, object); errno != 0 {
			return false
		}
		p.xattrs, p.ctime = x, time.Now()
		return true
	})
	if errno != 0 {
		return errno
	}
	if errno := o.persistAttrsErrno(ctx); errno != 0 {
		o.withAttrs(func(p *posixAttrs) bool { p.xattrs, p.ctime = old.xattrs, old.ctime; return true })
		return errno
	}
	return 0
}

func (n *fileNode) loadAttrsErrno(ctx context.Context, op string) syscall.Errno {
	if err := n.loadMeta(ctx); err != nil {
		return n.fsys.errno(op, n.objectKey(), err)
	}
	return 0
}

func (n *fileNode) withAttrs(fn func(p *posixAttrs) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if fn(&n.attrs.posixAttrs) {
		n.attrs.fromHead, n.attrs.asOf = true, time.Now()
	}
}

func (n *fileNode) persistAttrsErrno(ctx context.Context) syscall.Errno { return n.persistMeta(ctx) }

func (n *fileNode) xattrTarget() (*FS, string, uint32) {
	return n.fsys, n.objectKey(), syscall.S_IFREG
}

func (d *dirNode) loadAttrsErrno(ctx context.Context, _ string) syscall.Errno {
	d.loadAttrs(ctx)
	return 0
}

func (d *dirNode) withAttrs(fn func(p *posixAttrs) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fn(&d.attrs)
}

func (d *dirNode) persistAttrsErrno(ctx context.Context) syscall.Errno { return d.persistAttrs(ctx) }

func (d *dirNode) xattrTarget() (*FS, string, uint32) {
	return d.fsys, d.keyPrefix(), syscall.S_IFDIR
}

func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return getXattr(n, ctx, attr, dest)
}

func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listXattr(n, ctx, dest)
}

func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return changeXattr(n, ctx, attr, data, flags, false)
}

func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return changeXattr(n, ctx, attr, nil, 0, true)
}

func (d *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return getXattr(d, ctx, attr, dest)
}

func (d *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listXattr(d, ctx, dest)
}

func (d *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return changeXattr(d, ctx, attr, data, flags, false)
}

func (d *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return changeXattr(d, ctx, attr, nil, 0, true)
}
