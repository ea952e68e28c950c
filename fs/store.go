package fs

import (
	"context"

	"github.com/ssecfs/ssecfs/bucket"
)

// ObjectStore is what the tree needs of the bucket. *bucket.Bucket implements it; every
// method that moves object data sends the SSE-C headers.
type ObjectStore interface {
	ListPage(ctx context.Context, prefix, token string) ([]bucket.Entry, string, error)
	ListAll(ctx context.Context, prefix string, fn func([]bucket.Entry) error) error
	PrefixExists(ctx context.Context, prefix string) (bool, error)
	Head(ctx context.Context, key string) (bucket.ObjectInfo, error)
	ReadRange(ctx context.Context, key, etag string, off, length int64) ([]byte, error)

	Put(ctx context.Context, key string, body []byte, meta map[string]string, cond bucket.Condition) (string, error)
	StartUpload(ctx context.Context, key string, meta map[string]string) (*bucket.Upload, error)
	Copy(ctx context.Context, src, srcETag string, size int64, dst string, meta map[string]string, cond bucket.Condition) (string, error)
	Delete(ctx context.Context, key string) error
}
