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
	"github.com/ssecfs/ssecfs/cache"
)

// fileNode is one object.
type fileNode struct {
	gofs.Inode
	fsys *FS

	mu       sync.Mutex
	key      string
	attrs    fileAttrs
	content  *content // set while the file is open for writing or has unsaved changes
	writers  int      // writable handles open
	unlinked bool     // removed while open: nothing is saved any more
	// kernelETag is the version whose pages the kernel may hold in its page cache:
	// an open that finds the same version keeps them (FOPEN_KEEP_CACHE).
	kernelETag string
	// ownETag is the version this mount made last (a save, an attribute copy, a
	// rename): open handles follow what the mount itself did to the file, as on any
	// filesystem, but not a version another writer made (reads of it are ESTALE).
	ownETag string

	saveMu sync.Mutex // one save of this file at a time
}

var (
	_ gofs.NodeGetattrer = (*fileNode)(nil)
	_ gofs.NodeOpener    = (*fileNode)(nil)
	_ gofs.NodeReader    = (*fileNode)(nil)
)

// openFile is one open of a file. A read-only open pins its reads to the version of the
// object seen at open; while the file has a shared content (someone writes it), reads go
// through that instead, so every handle sees the writes.
type openFile struct {
	node     *fileNode
	key      string // the object read; a rename here moves the handle with it
	etag     string
	size     int64
	writable bool
	// reader reads the pinned version through the page cache, reading ahead when the
	// file is read front to back; nil until the first read.
	reader *cache.Reader
}

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

// Open does a keyed HEAD: it finds the version to pin reads to, and refuses at once, with
// EACCES, an object that no key of the keyring opens.
func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	ctx = context.WithoutCancel(ctx)
	writable := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if writable || flags&syscall.O_TRUNC != 0 {
		if n.fsys.opts.ReadOnly {
			return nil, 0, syscall.EROFS
		}
		c, err := n.openForWrite(ctx)
		if err != nil {
			return nil, 0, n.fsys.errno("open", n.objectKey(), err)
		}
		h := &openFile{node: n, writable: true}
		if flags&syscall.O_ACCMODE == syscall.O_RDWR {
			c.keepForReads()
		}
		if flags&syscall.O_TRUNC != 0 {
			if err := c.truncate(0); err != nil {
				n.Release(ctx, h)
				return nil, 0, n.fsys.errno("open", n.objectKey(), err)
			}
			n.touch(c)
		}
		if !writable {
			n.Release(ctx, h) // O_RDONLY|O_TRUNC: truncated, then read-only
			return &openFile{node: n}, 0, n.sync(ctx)
		}
		return h, 0, 0
	}
	n.mu.Lock()
	writing := n.content != nil
	key := n.key
	n.mu.Unlock()
	if writing {
		return &openFile{node: n}, 0, 0
	}
	info, err := n.head(ctx, key)
	if err != nil {
		return nil, 0, n.fsys.errno("open", key, err)
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
	return &openFile{node: n, key: key, etag: info.ETag, size: info.Size}, fuseFlags, 0
}

func (n *fileNode) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*openFile)
	if !ok {
		return nil, syscall.EBADF
	}
	// Not tied to the kernel's request: pages are shared by every reader, and the
	// cache bounds each fetch's time.
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(streamReadWait)
	for {
		n.mu.Lock()
		c, key := n.content, n.key
		n.mu.Unlock()
		if c == nil {
			got, err := n.readerFor(h, key).ReadAt(ctx, dest, off)
			if err != nil {
				return nil, n.fsys.errno("read", key, err)
			}
			return fuse.ReadResultData(dest[:got]), 0
		}
		c.keepForReads()
		got, err := c.readAt(ctx, dest, off)
		var streamed streamedRange
		if errors.As(err, &streamed) && waitUntil(streamed.done, deadline) {
			continue // the stream ended: read the file as it is now
		}
		if err != nil {
			return nil, n.fsys.errno("read", key, err)
		}
		return fuse.ReadResultData(dest[:got]), 0
	}
}

// streamReadWait bounds how long a read of a range that is on its way to S3 waits for
// the writer to close the file.
const streamReadWait = 2 * time.Minute

// waitUntil waits for done until deadline; it reports whether done came.
func waitUntil(done <-chan struct{}, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// readerFor returns the handle's page-cache reader, made on first use. Reads of one
// handle may arrive concurrently, hence the node's lock.
func (n *fileNode) readerFor(h *openFile, key string) *cache.Reader {
	n.mu.Lock()
	defer n.mu.Unlock()
	// Follow what this mount did to the file since the handle was opened: a rename,
	// or a version it saved (a truncate by path, another handle's writes).
	moved := h.key != "" && h.key != key
	replacedHere := n.ownETag != "" && n.ownETag == n.attrs.etag && h.etag != "" && h.etag != n.ownETag
	if moved || replacedHere {
		if h.reader != nil {
			h.reader.Close()
			h.reader = nil
		}
		h.etag = ""
	}
	if h.reader == nil {
		h.key = key
		if h.etag == "" { // opened while the file was being written: read what was saved
			h.etag, h.size = n.attrs.etag, n.attrs.size
		}
		etag := h.etag
		h.reader = n.fsys.pages.NewReader(key, etag, h.size, func(ctx context.Context, off, length int64) ([]byte, error) {
			return n.fsys.store.ReadRange(ctx, key, etag, off, length)
		})
	}
	return h.reader
}

// head learns the object's current version. A HEAD made within the kernel's own
// attribute time (by the lookup just before this open, typically) is not repeated. If
// this mount saved a newer version while the HEAD was on its way, that version is the
// current one.
func (n *fileNode) head(ctx context.Context, key string) (bucket.ObjectInfo, error) {
	n.mu.Lock()
	a := n.attrs
	n.mu.Unlock()
	if a.etag != "" && !a.headAt.IsZero() && time.Since(a.headAt) < n.fsys.kernelTTL() {
		return bucket.ObjectInfo{Key: key, Size: a.size, ETag: a.etag}, nil
	}
	sent := time.Now()
	info, err := n.fsys.store.Head(ctx, key)
	if err != nil {
		return info, err
	}
	var ignored fuse.Attr
	n.update(n.fsys.attrsFromHead(info, sent), &ignored)
	n.mu.Lock()
	a = n.attrs
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
