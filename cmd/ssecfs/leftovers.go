package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/uploadlog"
)

// openUploadLog starts this mount's log of multipart uploads in progress (see package
// uploadlog). Without one the mount still works; a crash then leaves its uploads to a
// lifecycle rule.
func openUploadLog(c *mountConfig, logger *slog.Logger) (*uploadlog.Log, string) {
	dir, err := uploadlog.DefaultDir()
	if err == nil {
		var l *uploadlog.Log
		if l, err = uploadlog.Open(dir, c.bucket, c.prefix); err == nil {
			return l, dir
		}
	}
	logger.Warn("keeping no log of uploads in progress: after a crash, unfinished uploads stay until a lifecycle rule removes them", "err", err)
	return nil, ""
}

// leftoverAbortTime bounds the background abort of a crashed mount's uploads.
const leftoverAbortTime = 5 * time.Minute

// abortLeftovers aborts, in the background, the uploads that earlier mounts of this
// bucket and prefix left open when they died, and only those.
func abortLeftovers(store *bucket.Bucket, dir string, c *mountConfig, logger *slog.Logger) {
	if dir == "" {
		return
	}
	ids, files, err := uploadlog.Leftovers(dir, c.bucket, c.prefix)
	if err != nil || len(files) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), leftoverAbortTime)
		defer cancel()
		n, err := store.AbortUploads(ctx, c.prefix, ids)
		if err != nil {
			logger.Warn("could not abort the uploads an earlier mount left open when it stopped; trying again at the next mount",
				"aborted", n, "left", len(ids)-n, "err", err)
			return
		}
		if n > 0 {
			logger.Info("aborted uploads that an earlier mount left open when it stopped", "aborted", n)
		}
		uploadlog.Forget(files)
	}()
}

// journal is l as a bucket.UploadJournal, or none (a nil *Log must not become a non-nil
// interface).
func journal(l *uploadlog.Log) bucket.UploadJournal {
	if l == nil {
		return nil
	}
	return l
}
