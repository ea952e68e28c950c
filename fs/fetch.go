package fs

import (
	"context"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"

	"github.com/ssecfs/ssecfs/cache"
)

// fetcher is how the page cache reads version etag of key: a keyed ranged GET pinned
// to that version with If-Match (a changed object fails with bucket.ErrChanged, it is
// never mixed in). onBehalf, if not nil, marks each fetch's context with the process it
// works for (observe.go). seen, if not nil, is told what each answer's headers say of
// the object (its metadata: what a HEAD would have said) and when the GET was sent.
// Every Reader and prefetch of the mount fetches through here.
func (f *FS) fetcher(key, etag string, onBehalf func(context.Context) context.Context, seen func(bucket.ObjectInfo, time.Time)) cache.RangeFunc {
	return func(ctx context.Context, off int64, dst [][]byte) (int64, error) {
		if onBehalf != nil {
			ctx = onBehalf(ctx)
		}
		sent := time.Now()
		n, info, err := f.store.ReadInto(ctx, key, etag, off, dst)
		if err == nil && seen != nil {
			seen(info, sent)
		}
		return n, err
	}
}

// learned takes the attributes a GET of the node's current version brought (its
// metadata: mode, owner, times) when the node has only a listing's: an open pinned to
// a listed version sends no HEAD, and its first read tells what the HEAD would have.
func (n *fileNode) learned(info bucket.ObjectInfo, sent time.Time) {
	n.mu.Lock()
	want := !n.attrs.fromHead && n.content == nil && info.ETag != "" && info.ETag == n.attrs.etag && info.Size == n.attrs.size
	n.mu.Unlock()
	if want {
		a := n.fsys.attrsFromHead(info, sent)
		// Not a HEAD: the next open still asks for the current version (file.go, head).
		a.headAt = time.Time{}
		var ignored fuse.Attr
		n.update(a, &ignored)
	}
}
