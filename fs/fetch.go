package fs

import (
	"context"

	"github.com/ssecfs/ssecfs/cache"
)

// fetcher is how the page cache reads version etag of key: a keyed ranged GET pinned
// to that version with If-Match (a changed object fails with bucket.ErrChanged, it is
// never mixed in). onBehalf, if not nil, marks each fetch's context with the process it
// works for (observe.go). Every Reader and prefetch of the mount fetches through here.
func (f *FS) fetcher(key, etag string, onBehalf func(context.Context) context.Context) cache.RangeFunc {
	return func(ctx context.Context, off int64, dst [][]byte) (int64, error) {
		if onBehalf != nil {
			ctx = onBehalf(ctx)
		}
		return f.store.ReadInto(ctx, key, etag, off, dst)
	}
}
