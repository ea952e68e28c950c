package metrics

import (
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/writeback"
)

type fakeCache struct{ held, capacity int64 }

func (c fakeCache) Held() int64     { return c.held }
func (c fakeCache) Capacity() int64 { return c.capacity }

// feed tells m of a little of everything.
func feed(m *Metrics) {
	fp := "Xda9VN0wFMi7LdUWVCd+Zg=="
	caller := &bucket.Caller{UID: 1000, PID: 42}
	for _, e := range []bucket.RequestEvent{
		{Op: "GetObject", Object: "secret/name-1", Outcome: "access_denied", Status: 403, KeyFingerprint: fp, Duration: time.Millisecond},
		{Op: "GetObject", Object: "secret/name-1", Outcome: "ok", Status: 206, KeyFingerprint: fp, KeyFallback: true, BytesIn: 1000, Duration: 20 * time.Millisecond, Caller: caller},
		{Op: "GetObject", Object: "secret/name-2", Outcome: "ok", Status: 206, KeyFingerprint: fp, BytesIn: 500, Retries: 2, Duration: 3 * time.Second},
		{Op: "PutObject", Object: "secret/name-3", Outcome: "ok", Status: 200, KeyFingerprint: fp, BytesOut: 300, Duration: 50 * time.Millisecond},
		{Op: "UploadPart", Object: "secret/name-4", Outcome: "server_error", Status: 503, KeyFingerprint: fp, BytesOut: 5 << 20, Retries: 7},
		{Op: "ListObjectsV2", Object: "secret/", Outcome: "ok", Status: 200},
	} {
		m.ObserveRequest(e)
	}
	for range 3 {
		m.CachePageHit()
	}
	m.CachePageMiss()
	m.CachePageEvicted()
	m.CacheReadAheadUsed(4096)
	m.CacheReadAheadWasted(1024)
	m.FilePrefetched(65536)
	m.FilePrefetched(1000)
	m.WritebackConflict(true)
	m.WritebackConflict(false)
	m.WritebackConflict(true)
	m.FuseOp("lookup", syscall.ENOENT, time.Millisecond)
	m.FuseOp("lookup", 0, time.Millisecond)
	m.FuseOp("read", 0, time.Millisecond)
	m.FuseOp("read", syscall.EIO, time.Millisecond)
	m.FuseOp("read", 0, time.Millisecond)
	m.WatchCache(fakeCache{held: 3 << 20, capacity: 256 << 20})
	m.WatchWriteback(func() writeback.Stats {
		return writeback.Stats{UploadsInFlight: 2, UploadSlots: 4, BufferInUse: 7 << 20, BufferLimit: 256 << 20, SpillBytes: 1 << 20}
	})
}

func TestCounts(t *testing.T) {
	m := New()
	feed(m)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"GetObject ok", testutil.ToFloat64(m.s3Requests.WithLabelValues("GetObject", "ok")), 2},
		{"GetObject access_denied", testutil.ToFloat64(m.s3Requests.WithLabelValues("GetObject", "access_denied")), 1},
		{"UploadPart server_error", testutil.ToFloat64(m.s3Requests.WithLabelValues("UploadPart", "server_error")), 1},
		{"ListObjectsV2 ok", testutil.ToFloat64(m.s3Requests.WithLabelValues("ListObjectsV2", "ok")), 1},
		{"GetObject retries", testutil.ToFloat64(m.s3Retries.WithLabelValues("GetObject")), 2},
		{"UploadPart retries", testutil.ToFloat64(m.s3Retries.WithLabelValues("UploadPart")), 7},
		{"bytes received", testutil.ToFloat64(m.s3Received.WithLabelValues("GetObject")), 1500},
		{"bytes sent by PutObject", testutil.ToFloat64(m.s3Sent.WithLabelValues("PutObject")), 300},
		{"bytes sent by UploadPart", testutil.ToFloat64(m.s3Sent.WithLabelValues("UploadPart")), 5 << 20},
		{"key fallbacks", testutil.ToFloat64(m.s3Fallbacks.WithLabelValues("GetObject")), 1},
		{"cache hits", testutil.ToFloat64(m.cacheHits), 3},
		{"cache misses", testutil.ToFloat64(m.cacheMisses), 1},
		{"cache evictions", testutil.ToFloat64(m.cacheEvicted), 1},
		{"read-ahead used", testutil.ToFloat64(m.raUsed), 4096},
		{"read-ahead wasted", testutil.ToFloat64(m.raWasted), 1024},
		{"files prefetched", testutil.ToFloat64(m.pfFiles), 2},
		{"bytes prefetched", testutil.ToFloat64(m.pfBytes), 66536},
		{"conflicts saved beside", testutil.ToFloat64(m.conflicts.WithLabelValues("saved_beside")), 2},
		{"conflicts not saved", testutil.ToFloat64(m.conflicts.WithLabelValues("not_saved")), 1},
		{"lookup ENOENT", testutil.ToFloat64(m.fuseOps.WithLabelValues("lookup", "ENOENT")), 1},
		{"read OK", testutil.ToFloat64(m.fuseOps.WithLabelValues("read", "OK")), 2},
		{"read EIO", testutil.ToFloat64(m.fuseOps.WithLabelValues("read", "EIO")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.s3Duration); n != 4 {
		t.Errorf("%d request duration histograms, want one per operation (4)", n)
	}

	// The gauges read at a scrape.
	want := `
# HELP ssecfs_cache_bytes Bytes of decrypted pages in the page cache.
# TYPE ssecfs_cache_bytes gauge
ssecfs_cache_bytes 3.145728e+06
# HELP ssecfs_writeback_spill_bytes Unsaved writes sealed in the encrypted spill file.
# TYPE ssecfs_writeback_spill_bytes gauge
ssecfs_writeback_spill_bytes 1.048576e+06
# HELP ssecfs_writeback_uploads_in_flight Upload slots taken: multipart parts and server-side copies on their way.
# TYPE ssecfs_writeback_uploads_in_flight gauge
ssecfs_writeback_uploads_in_flight 2
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want),
		"ssecfs_cache_bytes", "ssecfs_writeback_spill_bytes", "ssecfs_writeback_uploads_in_flight"); err != nil {
		t.Error(err)
	}
}

// A mount without a cache or write-back to watch shows none of their gauges; a nil
// Metrics counts nothing and does not panic.
func TestUnwatchedAndNil(t *testing.T) {
	m := New()
	if n, err := testutil.GatherAndCount(m.reg, "ssecfs_cache_bytes", "ssecfs_writeback_buffer_bytes"); err != nil || n != 0 {
		t.Errorf("unwatched gauges: %d, %v", n, err)
	}
	var none *Metrics
	feed(none)
}

// Serve answers GET /metrics in the Prometheus text format with every metric's name;
// no label holds an object name or a key.
func TestServe(t *testing.T) {
	m := New()
	feed(m)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := m.ServeListener(l)
	defer stop()
	resp, err := http.Get("http://" + l.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	text := string(body)
	for _, name := range []string{
		`ssecfs_s3_requests_total{op="GetObject",outcome="ok"} 2`,
		`ssecfs_s3_request_duration_seconds_bucket{op="GetObject",le="`,
		`ssecfs_s3_retries_total{op="UploadPart"} 7`,
		`ssecfs_s3_received_bytes_total{op="GetObject"} 1500`,
		`ssecfs_s3_sent_bytes_total{op="PutObject"} 300`,
		`ssecfs_s3_key_fallbacks_total{op="GetObject"} 1`,
		`ssecfs_cache_hits_total 3`,
		`ssecfs_cache_misses_total 1`,
		`ssecfs_cache_evictions_total 1`,
		`ssecfs_cache_bytes 3.145728e+06`,
		`ssecfs_cache_capacity_bytes 2.68435456e+08`,
		`ssecfs_cache_readahead_used_bytes_total 4096`,
		`ssecfs_cache_readahead_wasted_bytes_total 1024`,
		`ssecfs_prefetch_files_total 2`,
		`ssecfs_prefetch_bytes_total 66536`,
		`ssecfs_writeback_uploads_in_flight 2`,
		`ssecfs_writeback_upload_slots 4`,
		`ssecfs_writeback_buffer_bytes 7.340032e+06`,
		`ssecfs_writeback_buffer_limit_bytes 2.68435456e+08`,
		`ssecfs_writeback_spill_bytes 1.048576e+06`,
		`ssecfs_writeback_conflicts_total{result="saved_beside"} 2`,
		`ssecfs_fuse_operations_total{errno="ENOENT",op="lookup"} 1`,
		`ssecfs_fuse_operation_duration_seconds_count{op="read"} 3`,
		`# TYPE ssecfs_s3_request_duration_seconds histogram`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	for _, never := range []string{"secret/", "Xda9VN0wFMi7LdUWVCd", "uid="} {
		if strings.Contains(text, never) {
			t.Errorf("/metrics holds %q", never)
		}
	}
	stop()
	if _, err := http.Get("http://" + l.Addr().String() + "/metrics"); err == nil {
		t.Error("still serving after stop")
	}
}

func TestServeBadAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := New().Serve(l.Addr().String()); err == nil {
		t.Error("Serve on an address in use succeeded")
	}
	stop, err := New().Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // twice is fine
}
