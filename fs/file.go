package fs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/cache"
)

// fileNode is one object.
type fileNode struct {
	gofs.Inode
	fsys *FS
	key  string

	mu    sync.Mutex
	attrs fileAttrs
}

var (
	_ gofs.NodeGetattrer = (*fileNode)(nil)
	_ gofs.NodeOpener    = (*fileNode)(nil)
	_ gofs.NodeReader    = (*fileNode)(nil)
)

// openFile pins one open to the version of the object seen at open.
type openFile struct {
	etag string
	size int64
}

func (n *fileNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.attrs.fill(&out.Attr)
	return 0
}

// update takes newer attributes, but keeps those read from the object's metadata when
// a listing (which has none) reports the same version.
func (n *fileNode) update(a fileAttrs, out *fuse.Attr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !(n.attrs.fromHead && !a.fromHead && n.attrs.etag == a.etag) {
		n.attrs = a
	}
	n.attrs.fill(out)
}

// Open does a keyed HEAD: it finds the version to pin reads to, and refuses at once, with
// EACCES, an object that no key of the keyring opens.
func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	info, err := n.fsys.store.Head(context.WithoutCancel(ctx), n.key)
	if err != nil {
		return nil, 0, n.fsys.errno("open", n.key, err)
	}
	var ignored fuse.Attr
	n.update(n.fsys.attrsFromHead(info), &ignored)
	return &openFile{etag: info.ETag, size: info.Size}, 0, 0
}

func (n *fileNode) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*openFile)
	if !ok {
		return nil, syscall.EBADF
	}
	// Not tied to the kernel's request: pages are shared by every reader, and the
	// cache bounds each fetch's time.
	ctx = context.WithoutCancel(ctx)
	got, err := n.fsys.pages.ReadAt(ctx, n.key, h.etag, h.size, dest, off, n.pageFetcher(h))
	if err != nil {
		return nil, n.fsys.errno("read", n.key, err)
	}
	return fuse.ReadResultData(dest[:got]), 0
}

// pageFetcher makes the fetch of one page: a keyed ranged GET pinned to the open version.
func (n *fileNode) pageFetcher(h *openFile) func(index int64) cache.FetchFunc {
	pageSize := int64(n.fsys.pages.PageSize())
	return func(index int64) cache.FetchFunc {
		off := index * pageSize
		length := min(pageSize, h.size-off)
		return func(ctx context.Context) ([]byte, error) {
			return n.fsys.store.ReadRange(ctx, n.key, h.etag, off, length)
		}
	}
}
