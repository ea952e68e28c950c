package fs

import (
	"log/slog"
	"time"
)

// Options shape the tree the kernel sees.
type Options struct {
	// Prefix is the part of the bucket that is mounted: "" or a key prefix ending in "/".
	Prefix string
	// UID and GID own objects that carry no x-amz-meta-uid/gid.
	UID, GID uint32
	// FileMode and DirMode are the permission bits of objects and directories that
	// carry no x-amz-meta-mode.
	FileMode, DirMode uint32
	// StatTTL is how long a listing answers lookups (and says what does not exist).
	// Zero means one minute; a negative value turns caching off: every lookup and open
	// asks S3, and the kernel keeps no names or attributes.
	StatTTL time.Duration
	// ReadOnly answers EROFS to every change.
	ReadOnly bool
	// PartSize is the multipart part size (a multiple of 1 MiB, at least 5 MiB).
	PartSize int64
	// UploadConcurrency is how many parts may be in flight at once, over all files.
	UploadConcurrency int
	// WriteBuffer bounds the memory of all files' unsaved pages together.
	WriteBuffer int64
	// OverwriteConcurrent turns off the conditional writes that keep concurrent
	// writers on other machines from overwriting each other: last writer wins.
	OverwriteConcurrent bool
	// Logger receives warnings and errors; nil means slog.Default().
	Logger *slog.Logger
	// Observer, if set, is told of every FUSE operation and of the write-back's
	// conflicts (observe.go), and of prefetches if it is a PrefetchObserver.
	Observer Observer
	// PrefetchFiles is how many files of a directory read in listing order are fetched
	// ahead of the reader at most (prefetch.go). Zero means 16; a negative value turns
	// the prefetch off.
	PrefetchFiles int
}

func (o *Options) withDefaults() Options {
	out := *o
	if out.FileMode == 0 {
		out.FileMode = 0o644
	}
	if out.DirMode == 0 {
		out.DirMode = 0o755
	}
	if out.StatTTL == 0 {
		out.StatTTL = 60 * time.Second
	}
	if out.PartSize == 0 {
		out.PartSize = 8 << 20
	}
	if out.UploadConcurrency == 0 {
		out.UploadConcurrency = 4
	}
	if out.WriteBuffer == 0 {
		out.WriteBuffer = 256 << 20
	}
	if out.PrefetchFiles == 0 {
		out.PrefetchFiles = defaultPrefetchFiles
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out
}
