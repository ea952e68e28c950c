package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/ssecfs/ssecfs/audit"
	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/fs"
	"github.com/ssecfs/ssecfs/metrics"
)

// watchers are what a mount reports to besides its log: Prometheus metrics
// (--metrics-addr) and the key-usage audit log (--audit-log). Either may be nil; both
// are nil-safe. The profiler (--pprof-addr), a debugging aid, is started and stopped
// with them.
type watchers struct {
	metrics     *metrics.Metrics
	stopMetrics func()
	audit       *audit.Log
	stopPprof   func()
}

// openWatchers starts the metrics and profiler endpoints and opens the audit log, as
// the flags ask.
func openWatchers(c *mountConfig, logger *slog.Logger) (*watchers, error) {
	w := &watchers{stopMetrics: func() {}, stopPprof: func() {}}
	if c.metricsAddr != "" {
		w.metrics = metrics.New()
		stop, err := w.metrics.Serve(c.metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("--metrics-addr %s: %w", c.metricsAddr, err)
		}
		w.stopMetrics = stop
	}
	if c.pprofAddr != "" {
		stop, err := servePprof(c.pprofAddr, logger)
		if err != nil {
			w.stopMetrics()
			return nil, fmt.Errorf("--pprof-addr %s: %w", c.pprofAddr, err)
		}
		w.stopPprof = stop
	}
	if c.auditLog != "" {
		l, err := audit.Open(c.auditLog)
		if err != nil {
			w.stopMetrics()
			w.stopPprof()
			return nil, fmt.Errorf("--audit-log: %w", err)
		}
		l.OnError(func(err error) { logger.Error("writing the audit log failed", "err", err) })
		w.audit = l
	}
	return w, nil
}

func (w *watchers) close() {
	w.stopMetrics()
	w.stopPprof()
	w.audit.Close()
}

// requestObserver is what hears of every S3 request: metrics, the audit log, and the
// debug log. nil when nothing listens, so that requests are not wrapped for nothing.
func (w *watchers) requestObserver(logger *slog.Logger) bucket.Observer {
	var obs []bucket.Observer
	if w.metrics != nil {
		obs = append(obs, w.metrics)
	}
	if w.audit != nil {
		obs = append(obs, w.audit)
	}
	if logger.Enabled(context.Background(), slog.LevelDebug) {
		obs = append(obs, bucket.LogRequests(logger))
	}
	return bucket.Observers(obs...)
}

// cacheObserver and fsObserver are the metrics, or an untyped nil.
func (w *watchers) cacheObserver() cache.Observer {
	if w.metrics == nil {
		return nil
	}
	return w.metrics
}

func (w *watchers) fsObserver() fs.Observer {
	if w.metrics == nil {
		return nil
	}
	return w.metrics
}

// notify tells systemd (when NOTIFY_SOCKET is set) of a change of state.
func notify(logger *slog.Logger, send func() (bool, error)) {
	if _, err := send(); err != nil {
		logger.Warn("could not notify systemd", "err", err)
	}
}

const auditLogHelp = "append a JSON line to `FILE` (0600) for every request that carried a key\n" +
	"(operation, object, key fingerprint, never the key; bytes, outcome, uid, pid) and for the run"

// openAuditLog opens --audit-log for check and rotate; nil (which logs nothing) without it.
func openAuditLog(path string) (*audit.Log, error) {
	if path == "" {
		return nil, nil
	}
	l, err := audit.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--audit-log: %w", err)
	}
	return l, nil
}

// auditObserver is l as a request observer, or an untyped nil.
func auditObserver(l *audit.Log) bucket.Observer {
	if l == nil {
		return nil
	}
	return l
}

// asThisProcess marks the requests made on ctx as this process's own (check and rotate
// work for the user who runs them).
func asThisProcess(ctx context.Context) context.Context {
	return bucket.WithCaller(ctx, bucket.Caller{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), PID: uint32(os.Getpid())})
}
