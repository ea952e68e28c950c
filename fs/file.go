package fs

import (
	"context"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/writeback"
)

// fileNode is one object.
type fileNode struct {
	gofs.Inode
	fsys *FS

	// mu guards every field below. It is a leaf among this package's locks, and may be
	// taken inside a writeback.File's lock (which asks for the metadata at a save), so
	// it is never held while calling into writeback.
	mu       sync.Mutex
	key      string // the object; a rename changes it, so it is read under mu only
	attrs    fileAttrs
	content  *writeback.File // set while the file is open for writing or has unsaved changes
	writers  int             // writable handles open
	unlinked bool            // removed while open: nothing is saved any more
	// cutPending is an O_TRUNC open's truncation not yet applied to content (see
	// cutOnFirstUse); cutMu orders writers behind its application.
	cutPending bool
	// kernelETag is the version whose pages the kernel may hold in its page cache:
	// an open that finds the same version keeps them (FOPEN_KEEP_CACHE).
	kernelETag string
	// ownETag is the version this mount made last (a save, an attribute copy, a
	// rename): open handles follow what the mount itself did to the file, as on any
	// filesystem, but not a version another writer made (reads of it are ESTALE).
	ownETag string

	cutMu sync.Mutex
}

var (
	_ gofs.NodeGetattrer = (*fileNode)(nil)
	_ gofs.NodeOpener    = (*fileNode)(nil)
)

func (n *fileNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.attrs.fill(&out.Attr)
	if n.unlinked {
		out.Nlink = 0 // still open, but no longer has a name
	}
	return 0
}

// update takes newer attributes, but keeps those read from the object's metadata (or
// set here) when a listing, which has none, reports the same version; keeps the size of
// a file being written; and never takes attributes older than those it has.
func (n *fileNode) update(a fileAttrs, out *fuse.Attr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.content != nil:
	case a.asOf.Before(n.attrs.asOf):
	case n.attrs.fromHead && !a.fromHead && n.attrs.etag == a.etag:
		n.attrs.asOf = a.asOf
	default:
		n.attrs = a
	}
	n.attrs.fill(out)
}

// Open pins a read-only handle to the object's current version, and refuses at once,
// with EACCES, an object that no key of the keyring opens. The version is the one a
// listing (or lookup) gave within --stat-ttl when the kernel holds no pages of it
// (listingAnswersOpen): no request, the first read's If-Match checks it, and a handle
// that finds it replaced before reading anything reads the new one
// (readHandle.relearn). Otherwise it is learned with a keyed HEAD. A writable open (or
// O_TRUNC) joins the file's shared unsaved content instead (write.go).
func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	ctx = context.WithoutCancel(ctx)
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return n.openWritable(ctx, flags)
	}
	n.mu.Lock()
	writing := n.content != nil
	key, a, kernel := n.key, n.attrs, n.kernelETag
	n.mu.Unlock()
	if writing {
		return &readHandle{node: n, caller: openedBy(ctx)}, 0, 0
	}
	info := bucket.ObjectInfo{Key: key, Size: a.size, ETag: a.etag}
	listed := n.fsys.listingAnswersOpen(a, kernel)
	if !listed {
		var err error
		if info, err = n.head(ctx, key); err != nil {
			return nil, 0, n.fsys.errno("open", key, err)
		}
	}
	// The kernel keeps its cached pages of this file only while the object is the
	// version they came from; a new version makes it drop them, and its idea of the
	// size too: reads of this version must stop at this version's end, not at one the
	// kernel learned earlier (that would pad them with zeros or cut them short).
	var fuseFlags uint32
	n.mu.Lock()
	same := n.kernelETag == info.ETag
	n.kernelETag = info.ETag
	n.mu.Unlock()
	if same {
		fuseFlags = fuse.FOPEN_KEEP_CACHE
	} else {
		n.NotifyContent(-1, 0) // attributes only; the pages go because KEEP_CACHE is not set
	}
	if listed {
		n.fsys.prefetchCount.opensListed.Add(1)
	}
	caller := openedBy(ctx)
	var pid uint32
	if caller != nil {
		pid = caller.PID
	}
	n.walkedTo(pid)
	return &readHandle{node: n, key: key, etag: info.ETag, size: info.Size, caller: caller, unconfirmed: listed}, fuseFlags, 0
}

// listingAnswersOpen says whether an open may pin the version of attributes a without
// asking S3: they name a version, are no older than --stat-ttl (as a lookup trusts
// them), and the kernel holds no pages of that version (kernelETag differs), so that
// the first read fetches, and its If-Match finds out if the object changed since. A
// file opened before is asked for with a HEAD, as its pages (the kernel's, the
// cache's) would answer reads of the old version without a request; so is an empty
// file, which the kernel reads without asking us.
func (f *FS) listingAnswersOpen(a fileAttrs, kernelETag string) bool {
	ttl := f.opts.StatTTL
	return ttl > 0 && a.etag != "" && a.size > 0 && a.etag != kernelETag && !a.asOf.IsZero() && time.Since(a.asOf) < ttl
}

// head learns the object's current version. A HEAD made within the kernel's own
// attribute time (by the lookup just before this open, typically) is not repeated.
func (n *fileNode) head(ctx context.Context, key string) (bucket.ObjectInfo, error) {
	n.mu.Lock()
	a := n.attrs
	n.mu.Unlock()
	if a.etag != "" && !a.headAt.IsZero() && time.Since(a.headAt) < n.fsys.kernelTTL() {
		return bucket.ObjectInfo{Key: key, Size: a.size, ETag: a.etag}, nil
	}
	return n.headNow(ctx, key)
}

// headNow asks S3 for the object's current version with a keyed HEAD, and records its
// attributes. If this mount saved a newer version while the HEAD was on its way, that
// version is the current one.
func (n *fileNode) headNow(ctx context.Context, key string) (bucket.ObjectInfo, error) {
	sent := time.Now()
	info, err := n.fsys.store.Head(ctx, key)
	if err != nil {
		return info, err
	}
	var ignored fuse.Attr
	n.update(n.fsys.attrsFromHead(info, sent), &ignored)
	n.mu.Lock()
	a := n.attrs
	n.mu.Unlock()
	if a.asOf.After(sent) && a.etag != "" {
		info.ETag, info.Size = a.etag, a.size
	}
	return info, nil
}

// metadata is the user metadata to store with the object, as s3fs and rclone do.
func (n *fileNode) metadata() map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.attrs.meta(syscall.S_IFREG)
}

// objectKey is the node's object key; a rename changes it, so it is read under the lock.
func (n *fileNode) objectKey() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.key
}
