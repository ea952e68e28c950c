package fs

import (
	"context"

	"github.com/ssecfs/ssecfs/bucket"
)

// ObjectStore is what the tree needs of the bucket: list a prefix, describe an object,
// read a range of one version of it. *bucket.Bucket implements it.
type ObjectStore interface {
	ListPage(ctx context.Context, prefix, token string) ([]bucket.Entry, string, error)
	PrefixExists(ctx context.Context, prefix string) (bool, error)
	Head(ctx context.Context, key string) (bucket.ObjectInfo, error)
	ReadRange(ctx context.Context, key, etag string, off, length int64) ([]byte, error)
}
