package bucket

import (
	"context"
	"log/slog"
)

// LogRequests is an Observer that logs every request at debug level: the operation,
// the object (and a copy's source), the HTTP status and outcome, the bytes of object
// data each way, the duration, the retries, the fingerprints of the keys it carried,
// and the caller's uid and pid when known. Never a key, never data. When the logger
// does not log debug messages it costs one check per request.
func LogRequests(logger *slog.Logger) Observer {
	if logger == nil {
		return nil
	}
	return ObserverFunc(func(e RequestEvent) {
		ctx := context.Background()
		if !logger.Enabled(ctx, slog.LevelDebug) {
			return
		}
		attrs := make([]slog.Attr, 0, 14)
		attrs = append(attrs, slog.String("op", e.Op), slog.String("object", e.Object))
		if e.Source != "" {
			attrs = append(attrs, slog.String("source", e.Source))
		}
		attrs = append(attrs,
			slog.Int("status", e.Status),
			slog.String("outcome", e.Outcome),
			slog.Int64("bytes_in", e.BytesIn),
			slog.Int64("bytes_out", e.BytesOut),
			slog.Duration("duration", e.Duration),
			slog.Int("retries", e.Retries),
		)
		if e.KeyFingerprint != "" {
			attrs = append(attrs, slog.String("key", e.KeyFingerprint))
		}
		if e.SourceKeyFingerprint != "" {
			attrs = append(attrs, slog.String("source_key", e.SourceKeyFingerprint))
		}
		if e.KeyFallback {
			attrs = append(attrs, slog.Bool("older_key", true))
		}
		if e.Caller != nil {
			attrs = append(attrs, slog.Uint64("uid", uint64(e.Caller.UID)), slog.Uint64("pid", uint64(e.Caller.PID)))
		}
		logger.LogAttrs(ctx, slog.LevelDebug, "s3 request", attrs...)
	})
}
