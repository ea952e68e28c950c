package fs

import (
	"context"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/writeback"
)

// ObjectStore is what the tree needs of the bucket. BucketStore adapts a *bucket.Bucket;
// every method that moves object data sends the SSE-C headers. internal/memstore is a
// complete fake for tests.
type ObjectStore interface {
	writeback.Store

	ListPage(ctx context.Context, prefix, token string) ([]bucket.Entry, string, error)
	ListAll(ctx context.Context, prefix string, fn func([]bucket.Entry) error) error
	PrefixExists(ctx context.Context, prefix string) (bool, error)
	Head(ctx context.Context, key string) (bucket.ObjectInfo, error)
	ReadRange(ctx context.Context, key, etag string, off, length int64) ([]byte, error)
	// ReadInto reads key's bytes from off into the buffers of dst in order, with one GET
	// pinned to etag, and says how many it wrote (fewer only at the object's end) and
	// what the answer's headers say of the object (as a HEAD would): the page cache's
	// fetches, straight into its pages.
	ReadInto(ctx context.Context, key, etag string, off int64, dst [][]byte) (int64, bucket.ObjectInfo, error)
	Copy(ctx context.Context, src, srcETag string, size int64, dst string, meta map[string]string, cond bucket.Condition) (string, error)
	Delete(ctx context.Context, key string) error
}

// BucketStore is b as an ObjectStore.
func BucketStore(b *bucket.Bucket) ObjectStore { return bucketStore{b} }

// bucketStore hands out b's multipart uploads as writeback.Uploads.
type bucketStore struct{ *bucket.Bucket }

func (s bucketStore) StartUpload(ctx context.Context, key string, meta map[string]string) (writeback.Upload, error) {
	up, err := s.Bucket.StartUpload(ctx, key, meta)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return up, nil
}
