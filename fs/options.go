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
	StatTTL time.Duration
	// Logger receives warnings and errors; nil means slog.Default().
	Logger *slog.Logger
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
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out
}
