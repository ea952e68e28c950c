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
	"github.com/ssecfs/ssecfs/writeback"
)

// An open file is a handle that carries its own read and write state, as go-fuse's
// loopback files do: readHandle for O_RDONLY, writeHandle for O_WRONLY and O_RDWR. The
// node (file.go, write.go) keeps what all handles share: attributes, the key, and the
// unsaved content while anyone writes.

var (
	_ gofs.FileReader   = (*readHandle)(nil)
	_ gofs.FileFsyncer  = (*readHandle)(nil)
	_ gofs.FileReleaser = (*readHandle)(nil)

	_ gofs.FileReader   = (*writeHandle)(nil)
	_ gofs.FileWriter   = (*writeHandle)(nil)
	_ gofs.FileFlusher  = (*writeHandle)(nil)
	_ gofs.FileFsyncer  = (*writeHandle)(nil)
	_ gofs.FileReleaser = (*writeHandle)(nil)
)

// readHandle is a read-only open. Its reads are pinned to the version of the object seen
// at open; while the file has unsaved content (someone writes it), they go through that
// instead, so every handle sees the writes. It follows what this mount itself did to the
// file since (a rename, a save), as on any filesystem, but not another writer's version.
type readHandle struct {
	node *fileNode

	// mu guards the fields below: the kernel sends one handle's reads concurrently.
	mu   sync.Mutex
	key  string // the object read; "" until known (opened while the file was written)
	etag string
	size int64
	// reader reads the pinned version through the page cache, reading ahead when the
	// file is read front to back; nil until the first read.
	reader *cache.Reader
	// caller opened the handle; its reads are sent on its behalf (observe.go). Set
	// when the handle is made, nil when unknown.
	caller *bucket.Caller
	// unconfirmed: the version was pinned from a listing, without a HEAD, and no read
	// has returned bytes yet; if the object turns out replaced, the handle moves to
	// the new version (relearn). relearns counts those moves.
	unconfirmed bool
	relearns    int

	// relearnMu lets one read at a time learn the new version; taken before mu.
	relearnMu sync.Mutex
}

// maxRelearns bounds how many times a handle moves to a newer version before it has
// returned anything: an object replaced again and again is read as ESTALE.
const maxRelearns = 3

func (h *readHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n := h.node
	// Not tied to the kernel's request: pages are shared by every reader, and the
	// cache bounds each fetch's time.
	ctx = context.WithoutCancel(ctx)
	for try := 0; ; try++ {
		n.mu.Lock()
		c, key := n.content, n.key
		n.mu.Unlock()
		if c != nil {
			return n.readContent(ctx, c, dest, off)
		}
		r, etag := h.readerFor(key)
		got, err := r.ReadAt(ctx, dest, off)
		if err == nil && got == 0 && h.unconfirmedAt(etag) && try < 2*maxRelearns {
			// At or past the listed size: nothing was fetched to check the version
			// by, and the object may have grown since. Ask.
			moved, errno := h.relearn(ctx, key, etag)
			if errno != 0 {
				return nil, errno
			}
			if moved {
				continue
			}
		}
		if err == nil {
			if h.served(etag) {
				return fuse.ReadResultData(dest[:got]), 0
			}
			if try < 2*maxRelearns {
				continue // another read moved the handle to a newer version: read that
			}
			err = bucket.ErrChanged
		}
		if errors.Is(err, bucket.ErrChanged) && try < 2*maxRelearns {
			moved, errno := h.relearn(ctx, key, etag)
			if errno != 0 {
				return nil, errno
			}
			if moved {
				continue
			}
		}
		return nil, n.fsys.errno("read", key, err)
	}
}

// served records that a read of version etag returns its bytes, and says whether it
// may: not if the handle moved to another version while it read.
func (h *readHandle) served(etag string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.etag != etag {
		return false
	}
	h.unconfirmed = false
	return true
}

// unconfirmedAt says whether the handle is pinned to etag from a listing, unchecked.
func (h *readHandle) unconfirmedAt(etag string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unconfirmed && h.etag == etag
}

// relearn moves a handle whose read of version etag of key found the object replaced
// (bucket.ErrChanged), or read nothing, to the object's current version, if no read of
// it has returned bytes yet: it was pinned from a listing, and the reader must get the
// version that is there now, whole, not ESTALE. It reports whether the read should be
// tried again; a HEAD that finds etag current confirms the handle where it is. A handle
// that returned bytes stays pinned (its reads are ESTALE; reopening reads the new
// version).
//
// The kernel sized the file from the listing. A larger new version must not be cut at
// that size, so the kernel's attributes are invalidated: a read that reaches the old
// end asks for them again. A smaller one is left to the kernel's own handling of a
// short read, which shrinks the size it holds (attr_version unchanged): invalidating
// the attributes while this read is on its way would make the kernel keep the old size
// and pad the short answer with zeros.
func (h *readHandle) relearn(ctx context.Context, key, etag string) (bool, syscall.Errno) {
	n := h.node
	h.relearnMu.Lock()
	defer h.relearnMu.Unlock()
	h.mu.Lock()
	if h.etag != etag || h.key != key {
		h.mu.Unlock()
		return true, 0 // another read moved it already
	}
	if !h.unconfirmed || h.relearns >= maxRelearns {
		h.mu.Unlock()
		return false, 0
	}
	oldSize := h.size
	h.mu.Unlock()

	info, err := n.headNow(ctx, key)
	if err != nil {
		return false, n.fsys.errno("read", key, err)
	}
	h.mu.Lock()
	if info.ETag == etag {
		h.unconfirmed = false
		h.mu.Unlock()
		return false, 0
	}
	h.mu.Unlock()
	n.mu.Lock()
	n.kernelETag = info.ETag
	n.mu.Unlock()
	h.mu.Lock()
	if h.reader != nil {
		h.reader.Close()
		h.reader = nil
	}
	h.etag, h.size = info.ETag, info.Size
	h.relearns++
	h.mu.Unlock()
	n.fsys.prefetchCount.relearned.Add(1)
	n.fsys.log.Debug("object replaced since it was listed: reading its current version",
		"object", key, "listed_etag", etag, "etag", info.ETag, "size", info.Size)
	if info.Size >= oldSize {
		n.NotifyContent(-1, 0)
	}
	return true, 0
}

// readerFor returns the handle's page-cache reader of key, and the version it reads,
// made on first use, after a rename, or after this mount saved a newer version.
func (h *readHandle) readerFor(key string) (*cache.Reader, string) {
	n := h.node
	n.mu.Lock()
	current, size, own := n.attrs.etag, n.attrs.size, n.ownETag
	n.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	moved := h.key != "" && h.key != key
	replacedHere := own != "" && own == current && h.etag != "" && h.etag != own
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
			h.etag, h.size = current, size
		}
		etag := h.etag
		h.reader = n.fsys.pages.NewReader(key, etag, h.size, n.fsys.fetcher(key, etag, h.onBehalf, n.learned))
	}
	return h.reader, h.etag
}

// Fsync saves the file's unsaved changes, whoever made them.
func (h *readHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.node.sync(context.WithoutCancel(ctx))
}

// Release stops reading ahead for a handle that is gone.
func (h *readHandle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	r := h.reader
	h.reader = nil
	h.mu.Unlock()
	if r != nil {
		r.Close()
	}
	return 0
}

// writeHandle is a writable open: it holds the file's shared unsaved content, which
// stays the node's for as long as any writeHandle is open.
type writeHandle struct {
	node *fileNode
	file *writeback.File
}

func (h *writeHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if err := h.node.cut(h.file); err != nil {
		return nil, h.node.fsys.errno("read", h.node.objectKey(), err)
	}
	return h.node.readContent(context.WithoutCancel(ctx), h.file, dest, off)
}

func (h *writeHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n := h.node
	if err := n.cut(h.file); err != nil {
		return 0, n.fsys.errno("write", n.objectKey(), err)
	}
	if err := h.file.Write(context.WithoutCancel(ctx), data, off); err != nil {
		return 0, n.fsys.errno("write", n.objectKey(), err)
	}
	n.touch(h.file)
	return uint32(len(data)), 0
}

// Flush runs on every close. Unsaved changes are uploaded here, so that close reports
// whether the data reached S3.
func (h *writeHandle) Flush(ctx context.Context) syscall.Errno {
	return h.node.sync(context.WithoutCancel(ctx))
}

func (h *writeHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.node.sync(context.WithoutCancel(ctx))
}

// Release lets go of the content; the last writer's release drops it once saved.
func (h *writeHandle) Release(ctx context.Context) syscall.Errno {
	h.node.releaseWriter(context.WithoutCancel(ctx), h.file)
	return 0
}

// readContent reads the unsaved content c of the file. A range already streamed to S3
// is readable once the writer closes the file: the read waits for that (bounded), then
// reads the file as it is then.
func (n *fileNode) readContent(ctx context.Context, c *writeback.File, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	deadline := time.Now().Add(streamReadWait)
	for {
		c.KeepForReads()
		got, err := c.ReadAt(ctx, dest, off)
		var streamed writeback.StreamedRange
		if errors.As(err, &streamed) && waitUntil(streamed.Done, deadline) {
			n.mu.Lock()
			now := n.content
			n.mu.Unlock()
			if now == nil {
				// Saved and let go meanwhile: read the saved version.
				return (&readHandle{node: n}).readOnce(ctx, dest, off)
			}
			c = now
			continue
		}
		if err != nil {
			return nil, n.fsys.errno("read", n.objectKey(), err)
		}
		return fuse.ReadResultData(dest[:got]), 0
	}
}

// readOnce reads from a handle made for one read, and closes its reader.
func (h *readHandle) readOnce(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	defer h.Release(ctx)
	return h.Read(ctx, dest, off)
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
