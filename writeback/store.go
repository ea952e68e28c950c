package writeback

import (
	"context"
	"io"

	"github.com/ssecfs/ssecfs/bucket"
)

// Store is what the write-back needs of the bucket: whole-object puts, multipart
// uploads and copies, each keyed. *bucket.Bucket implements it through a thin adapter in package fs
// (its StartUpload returns the concrete *bucket.Upload); internal/memstore is a complete
// fake.
type Store interface {
	// Put writes body as key in one request, under cond.
	Put(ctx context.Context, key string, body []byte, meta map[string]string, cond bucket.Condition) (string, error)
	// StartUpload begins a multipart upload of key with meta; nothing is visible until
	// Complete.
	StartUpload(ctx context.Context, key string, meta map[string]string) (Upload, error)
	// Copy copies version srcETag of src (size bytes) to dst server-side, with meta
	// as its metadata (nil keeps the source's), under cond.
	Copy(ctx context.Context, src, srcETag string, size int64, dst string, meta map[string]string, cond bucket.Condition) (string, error)
}

// Upload is one multipart upload in progress.
type Upload interface {
	// PutPartPages sends part n made of pages, in order, without joining them.
	PutPartPages(ctx context.Context, n int32, pages [][]byte) error
	// PutPartFrom sends part n of size bytes read from body, which can be rewound for
	// a retry.
	PutPartFrom(ctx context.Context, n int32, body io.ReadSeeker, size int64) error
	// CopyPart makes part n from bytes [off, off+length) of version srcETag of src,
	// server-side.
	CopyPart(ctx context.Context, n int32, src, srcETag string, off, length int64) error
	// Complete makes the object visible under cond and returns its ETag.
	Complete(ctx context.Context, cond bucket.Condition) (string, error)
	// Abort drops the parts sent.
	Abort() error
}

// Base reads the object version a file started from (its base). In the mount it is a
// page-cache reader pinned to the version's ETag.
type Base interface {
	// ReadAt reads like a FUSE read: short only at the version's end.
	ReadAt(ctx context.Context, dst []byte, off int64) (int, error)
	Close()
}

// OpenBase makes the Base of version etag of key, whose size is size.
type OpenBase func(key, etag string, size int64) Base
