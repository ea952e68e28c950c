package fs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
)

// errno is where errors from below become what the kernel is told, and where those are
// logged (failures the kernel is not told about are logged where they happen; see the
// package doc): the bucket's errors name the object and the key fingerprints tried,
// never a key.
func (f *FS) errno(op, path string, err error) syscall.Errno {
	e, level := classify(err)
	if op == "save" {
		level = slog.LevelError // data that close or fsync was told is not in S3: always said
	}
	f.log.Log(context.Background(), level, op+" failed", "path", path, "errno", e.Error(), "err", err)
	return e
}

func classify(err error) (syscall.Errno, slog.Level) {
	switch {
	case errors.Is(err, bucket.ErrNotFound):
		return syscall.ENOENT, slog.LevelDebug
	case errors.Is(err, bucket.ErrAccessDenied):
		return syscall.EACCES, slog.LevelWarn
	case errors.Is(err, bucket.ErrChanged):
		// The object was replaced while open; reopening reads the new version.
		return syscall.ESTALE, slog.LevelWarn
	case errors.Is(err, cache.ErrClosed):
		return syscall.EIO, slog.LevelWarn
	case errors.Is(err, syscall.EFBIG):
		return syscall.EFBIG, slog.LevelInfo
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT, slog.LevelError
	}
	return syscall.EIO, slog.LevelError
}
