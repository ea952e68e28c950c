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

func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if errno := xattrNameErrno(attr); errno != 0 {
		return 0, errno
	}
	if err := n.loadMeta(context.WithoutCancel(ctx)); err != nil {
		return 0, n.fsys.errno("getxattr", n.objectKey(), err)
	}
	n.mu.Lock()
	v, ok := n.attrs.xattrs[attr]
	n.mu.Unlock()
	return xattrValue(v, ok, dest)
}

func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if err := n.loadMeta(context.WithoutCancel(ctx)); err != nil {
		return 0, n.fsys.errno("listxattr", n.objectKey(), err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return xattrList(n.attrs.xattrs, dest)
}

func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.changeXattr(ctx, attr, data, flags, false)
}

func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.changeXattr(ctx, attr, nil, 0, true)
}

// changeXattr sets or removes one attribute: in memory, then in the object's metadata
// (by a keyed self-copy, or with the content at its save if it has unsaved changes).
func (n *fileNode) changeXattr(ctx context.Context, attr string, data []byte, flags uint32, remove bool) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	if errno := xattrNameErrno(attr); errno != 0 {
		return errno
	}
	ctx = context.WithoutCancel(ctx)
	if err := n.loadMeta(ctx); err != nil {
		return n.fsys.errno("setxattr", n.objectKey(), err)
	}
	now := time.Now()
	n.mu.Lock()
	old := n.attrs
	x, errno := changedXattrs(n.attrs.xattrs, attr, data, flags, remove)
	if errno == 0 {
		next := n.attrs.posixAttrs
		next.xattrs = x
		if errno = n.fsys.fitsMeta(next, syscall.S_IFREG, n.key); errno == 0 {
			n.attrs.xattrs, n.attrs.ctime, n.attrs.fromHead, n.attrs.asOf = x, now, true, now
		}
	}
	n.mu.Unlock()
	if errno != 0 {
		return errno
	}
	if errno := n.persistMeta(ctx); errno != 0 {
		n.mu.Lock()
		n.attrs.xattrs, n.attrs.ctime = old.xattrs, old.ctime
		n.mu.Unlock()
		return errno
	}
	return 0
}

func (d *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if errno := xattrNameErrno(attr); errno != 0 {
		return 0, errno
	}
	d.loadAttrs(context.WithoutCancel(ctx))
	d.mu.Lock()
	v, ok := d.attrs.xattrs[attr]
	d.mu.Unlock()
	return xattrValue(v, ok, dest)
}

func (d *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	d.loadAttrs(context.WithoutCancel(ctx))
	d.mu.Lock()
	defer d.mu.Unlock()
	return xattrList(d.attrs.xattrs, dest)
}

func (d *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return d.changeXattr(ctx, attr, data, flags, false)
}

func (d *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return d.changeXattr(ctx, attr, nil, 0, true)
}

func (d *dirNode) changeXattr(ctx context.Context, attr string, data []byte, flags uint32, remove bool) syscall.Errno {
	if d.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	if errno := xattrNameErrno(attr); errno != 0 {
		return errno
	}
	ctx = context.WithoutCancel(ctx)
	d.loadAttrs(ctx)
	d.mu.Lock()
	old := d.attrs
	x, errno := changedXattrs(d.attrs.xattrs, attr, data, flags, remove)
	if errno == 0 {
		next := d.attrs
		next.xattrs = x
		if errno = d.fsys.fitsMeta(next, syscall.S_IFDIR, d.prefix); errno == 0 {
			d.attrs.xattrs, d.attrs.ctime = x, time.Now()
		}
	}
	d.mu.Unlock()
	if errno != 0 {
		return errno
	}
	if errno := d.persistAttrs(ctx); errno != 0 {
		d.mu.Lock()
		d.attrs.xattrs, d.attrs.ctime = old.xattrs, old.ctime
		d.mu.Unlock()
		return errno
	}
	return 0
}
