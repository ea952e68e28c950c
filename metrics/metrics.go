// Package metrics exposes what a mount does as Prometheus metrics (--metrics-addr):
// S3 requests, the page cache, the write-back and FUSE operations. A Metrics is the
// observer of each of those packages (bucket.Observer, cache.Observer, fs.Observer,
// writeback.Observer), counts what they tell it, and reads the rest (bytes held,
// buffers in use) when scraped.
//
// No label ever carries a key or an object name: labels are operations, outcomes and
// errno names, small fixed sets. A nil *Metrics is a valid observer that counts nothing.
package metrics

import (
	"context"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/fs"
	"github.com/ssecfs/ssecfs/writeback"
)

const namespace = "ssecfs"

var (
	_ bucket.Observer     = (*Metrics)(nil)
	_ cache.Observer      = (*Metrics)(nil)
	_ fs.Observer         = (*Metrics)(nil)
	_ fs.PrefetchObserver = (*Metrics)(nil)
	_ writeback.Observer  = (*Metrics)(nil)
)

// Metrics holds a mount's metrics, in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	s3Requests   *prometheus.CounterVec   // op, outcome
	s3Duration   *prometheus.HistogramVec // op
	s3Retries    *prometheus.CounterVec   // op
	s3Received   *prometheus.CounterVec   // op
	s3Sent       *prometheus.CounterVec   // op
	s3Fallbacks  *prometheus.CounterVec   // op
	cacheHits    prometheus.Counter
	cacheMisses  prometheus.Counter
	cacheEvicted prometheus.Counter
	raUsed       prometheus.Counter
	raWasted     prometheus.Counter
	pfFiles      prometheus.Counter
	pfBytes      prometheus.Counter
	conflicts    *prometheus.CounterVec   // result
	fuseOps      *prometheus.CounterVec   // op, errno
	fuseDuration *prometheus.HistogramVec // op

	state *stateCollector
}

// New makes the metrics of one mount, with the Go runtime's and the process's own
// (memory, CPU, open files) beside them.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		s3Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "requests_total",
			Help: "S3 requests sent, by operation and outcome (ok, not_found, access_denied, changed, client_error, server_error, timeout, canceled, network_error, not_implemented). Retries of one request count once.",
		}, []string{"op", "outcome"}),
		s3Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "s3", Name: "request_duration_seconds",
			Help:    "Time of S3 requests, retries included; a GetObject's until its body is read.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14), // 1 ms to 2.5 min
		}, []string{"op"}),
		s3Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "retries_total",
			Help: "Tries of S3 requests after their first (5xx, SlowDown, broken connections).",
		}, []string{"op"}),
		s3Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "received_bytes_total",
			Help: "Object data received from S3 (GetObject bodies).",
		}, []string{"op"}),
		s3Sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "sent_bytes_total",
			Help: "Object data sent to S3 (PutObject and UploadPart bodies).",
		}, []string{"op"}),
		s3Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "key_fallbacks_total",
			Help: "S3 requests answered with an older key of the keyring, not the current one: objects not yet rotated.",
		}, []string{"op"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "cache", Name: "hits_total",
			Help: "Pages read from the page cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "cache", Name: "misses_total",
			Help: "Pages a read waited for a fetch of (read-ahead not yet arrived included).",
		}),
		cacheEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "cache", Name: "evictions_total",
			Help: "Pages evicted from the page cache to make room.",
		}),
		raUsed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "cache", Name: "readahead_used_bytes_total",
			Help: "Bytes fetched ahead that a read then used.",
		}),
		raWasted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "cache", Name: "readahead_wasted_bytes_total",
			Help: "Bytes fetched ahead that left the cache unread.",
		}),
		pfFiles: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "prefetch", Name: "files_total",
			Help: "Files whose first bytes were fetched before they were opened, for a reader walking their directory in listing order.",
		}),
		pfBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "prefetch", Name: "bytes_total",
			Help: "Bytes fetched ahead of opens of the next files of a directory.",
		}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "writeback", Name: "conflicts_total",
			Help: "Saves that found the object replaced by another writer, by result: saved_beside (as NAME.conflict-<time>) or not_saved.",
		}, []string{"result"}),
		fuseOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "fuse", Name: "operations_total",
			Help: "FUSE operations answered, by operation and errno (OK for success).",
		}, []string{"op", "errno"}),
		fuseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "fuse", Name: "operation_duration_seconds",
			Help:    "Time to answer FUSE operations.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 3, 14), // 50 µs to 80 s
		}, []string{"op"}),
		state: newStateCollector(),
	}
	m.reg.MustRegister(
		m.s3Requests, m.s3Duration, m.s3Retries, m.s3Received, m.s3Sent, m.s3Fallbacks,
		m.cacheHits, m.cacheMisses, m.cacheEvicted, m.raUsed, m.raWasted, m.pfFiles, m.pfBytes,
		m.conflicts, m.fuseOps, m.fuseDuration, m.state,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is where the metrics are registered; add more with it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest counts one S3 request (bucket.Observer).
func (m *Metrics) ObserveRequest(e bucket.RequestEvent) {
	if m == nil {
		return
	}
	m.s3Requests.WithLabelValues(e.Op, e.Outcome).Inc()
	m.s3Duration.WithLabelValues(e.Op).Observe(e.Duration.Seconds())
	if e.Retries > 0 {
		m.s3Retries.WithLabelValues(e.Op).Add(float64(e.Retries))
	}
	if e.BytesIn > 0 {
		m.s3Received.WithLabelValues(e.Op).Add(float64(e.BytesIn))
	}
	if e.BytesOut > 0 {
		m.s3Sent.WithLabelValues(e.Op).Add(float64(e.BytesOut))
	}
	if e.KeyFallback && e.Outcome == bucket.OutcomeOK {
		m.s3Fallbacks.WithLabelValues(e.Op).Inc()
	}
}

// CachePageHit counts a page read from the cache (cache.Observer).
func (m *Metrics) CachePageHit() {
	if m != nil {
		m.cacheHits.Inc()
	}
}

// CachePageMiss counts a page read that waited for a fetch (cache.Observer).
func (m *Metrics) CachePageMiss() {
	if m != nil {
		m.cacheMisses.Inc()
	}
}

// CachePageEvicted counts an eviction (cache.Observer).
func (m *Metrics) CachePageEvicted() {
	if m != nil {
		m.cacheEvicted.Inc()
	}
}

// CacheReadAheadUsed counts bytes fetched ahead and read (cache.Observer).
func (m *Metrics) CacheReadAheadUsed(bytes int) {
	if m != nil {
		m.raUsed.Add(float64(bytes))
	}
}

// CacheReadAheadWasted counts bytes fetched ahead and never read (cache.Observer).
func (m *Metrics) CacheReadAheadWasted(bytes int) {
	if m != nil {
		m.raWasted.Add(float64(bytes))
	}
}

// FilePrefetched counts a file whose first bytes are fetched before it is opened
// (fs.PrefetchObserver).
func (m *Metrics) FilePrefetched(bytes int64) {
	if m != nil {
		m.pfFiles.Inc()
		m.pfBytes.Add(float64(bytes))
	}
}

// WritebackConflict counts a save that met another writer's version
// (writeback.Observer).
func (m *Metrics) WritebackConflict(savedBeside bool) {
	if m == nil {
		return
	}
	result := "not_saved"
	if savedBeside {
		result = "saved_beside"
	}
	m.conflicts.WithLabelValues(result).Inc()
}

// FuseOp counts one FUSE operation (fs.Observer).
func (m *Metrics) FuseOp(op string, errno syscall.Errno, d time.Duration) {
	if m == nil {
		return
	}
	m.fuseOps.WithLabelValues(op, fs.ErrnoName(errno)).Inc()
	m.fuseDuration.WithLabelValues(op).Observe(d.Seconds())
}

// CacheState is what a page cache holds (*cache.PageCache).
type CacheState interface {
	Held() int64
	Capacity() int64
}

// WatchCache reads the bytes c holds, and its capacity, at each scrape.
func (m *Metrics) WatchCache(c CacheState) {
	if m == nil {
		return
	}
	m.state.mu.Lock()
	m.state.cache = c
	m.state.mu.Unlock()
}

// WatchWriteback reads the write-back's state with stats (fs.FS.WritebackStats) at each
// scrape.
func (m *Metrics) WatchWriteback(stats func() writeback.Stats) {
	if m == nil {
		return
	}
	m.state.mu.Lock()
	m.state.writeback = stats
	m.state.mu.Unlock()
}

// stateCollector reads gauges when scraped: what the cache and the write-back hold
// cost nothing between scrapes.
type stateCollector struct {
	cacheBytes, cacheCapacity                  *prometheus.Desc
	uploads, slots, buffer, bufferLimit, spill *prometheus.Desc

	mu        sync.Mutex
	cache     CacheState
	writeback func() writeback.Stats
}

func newStateCollector() *stateCollector {
	d := func(sub, name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, sub, name), help, nil, nil)
	}
	return &stateCollector{
		cacheBytes:    d("cache", "bytes", "Bytes of decrypted pages in the page cache."),
		cacheCapacity: d("cache", "capacity_bytes", "Size of the page cache (--cache-size)."),
		uploads:       d("writeback", "uploads_in_flight", "Upload slots taken: multipart parts and server-side copies on their way."),
		slots:         d("writeback", "upload_slots", "Upload slots (--upload-concurrency)."),
		buffer:        d("writeback", "buffer_bytes", "Memory of unsaved writes."),
		bufferLimit:   d("writeback", "buffer_limit_bytes", "Bound of the memory of unsaved writes (--write-buffer)."),
		spill:         d("writeback", "spill_bytes", "Unsaved writes sealed in the encrypted spill file."),
	}
}

func (s *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.cacheBytes, s.cacheCapacity, s.uploads, s.slots, s.buffer, s.bufferLimit, s.spill} {
		ch <- d
	}
}

func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	c, wb := s.cache, s.writeback
	s.mu.Unlock()
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	if c != nil {
		gauge(s.cacheBytes, c.Held())
		gauge(s.cacheCapacity, c.Capacity())
	}
	if wb != nil {
		st := wb()
		gauge(s.uploads, int64(st.UploadsInFlight))
		gauge(s.slots, int64(st.UploadSlots))
		gauge(s.buffer, st.BufferInUse)
		gauge(s.bufferLimit, st.BufferLimit)
		gauge(s.spill, st.SpillBytes)
	}
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Serve serves the metrics at http://addr/metrics until stop is called. It fails at
// once if addr cannot be listened on.
func (m *Metrics) Serve(addr string) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return m.ServeListener(l), nil
}

// ServeListener serves the metrics at /metrics on l until stop is called, which closes l
// and waits (briefly) for scrapes in progress.
func (m *Metrics) ServeListener(l net.Listener) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l) // returns ErrServerClosed at stop
	}()
	return sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
}
