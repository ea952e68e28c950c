package faultproxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is an httptest TLS server that serves /big?n=N (N pattern bytes) and counts
// POSTs to /post with the size of each body it read in full.
type upstream struct {
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
	posts  []int
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(pattern(n))
	})
	mux.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u.mu.Lock()
		u.posts = append(u.posts, len(body))
		u.mu.Unlock()
		fmt.Fprintf(w, "stored %d bytes\n", len(body))
	})
	u.srv = httptest.NewTLSServer(mux)
	t.Cleanup(u.srv.Close)
	u.caFile = filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(u.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u *upstream) postsSeen() []int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]int(nil), u.posts...)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}

func startProxy(t *testing.T, u *upstream, seed uint64) *Proxy {
	t.Helper()
	p, err := Start(Config{Upstream: u.srv.URL, UpstreamCA: u.caFile, Dir: t.TempDir(), Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// client trusts the proxy's bundle and would speak HTTP/2 if offered it.
func client(t *testing.T, p *Proxy, keepAlive bool) *http.Client {
	t.Helper()
	data, err := os.ReadFile(p.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatal("the CA bundle holds no certificate")
	}
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2:     true,
		DisableKeepAlives:     !keepAlive,
		ExpectContinueTimeout: 5 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get fetches path and returns the body bytes read and the first error.
func get(c *http.Client, url string) ([]byte, *http.Response, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp, err
}

func post(c *http.Client, url string, body []byte, expectContinue bool) (string, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	if expectContinue {
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return string(out), err
}

func TestPassThroughHTTP11(t *testing.T) {
	u := newUpstream(t)
	p := startProxy(t, u, 1)
	c := client(t, p, true)

	body, resp, err := get(c, p.Endpoint+"/big?n=1048576")
	if err != nil || !bytes.Equal(body, pattern(1<<20)) {
		t.Fatalf("GET 1 MiB through the proxy: %d bytes, %v", len(body), err)
	}
	if resp.Proto != "HTTP/1.1" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("protocol %s, ALPN %q; want HTTP/1.1 and http/1.1", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	if out, err := post(c, p.Endpoint+"/post", pattern(10000), false); err != nil || out != "stored 10000 bytes\n" {
		t.Errorf("POST: %q, %v", out, err)
	}
	if out, err := post(c, p.Endpoint+"/post", pattern(3<<20), true); err != nil || out != "stored 3145728 bytes\n" {
		t.Errorf("POST with Expect: 100-continue: %q, %v", out, err)
	}
	s := p.Stats()
	t.Logf("stats: %v", s)
	if s.Connections != 1 || s.Responses != 3 || s.Resets != 0 || s.LostResponses != 0 {
		t.Errorf("stats %v; want 1 connection, 3 responses (the 100 Continue not counted), no faults", s)
	}
	if s.BytesDown < 1<<20 || s.BytesUp < 3<<20 {
		t.Errorf("stats %v: too few bytes counted", s)
	}

	// The bundle holds two CAs: the proxy's and the upstream's, which a client can use
	// to reach the server directly.
	data, _ := os.ReadFile(p.CABundle)
	if n := bytes.Count(data, []byte("-----BEGIN CERTIFICATE-----")); n != 2 {
		t.Errorf("CA bundle holds %d certificates; want 2", n)
	}
	if body, _, err := get(c, u.srv.URL+"/big?n=10"); err != nil || len(body) != 10 {
		t.Errorf("GET from the upstream directly with the bundle: %v", err)
	}
}

func TestResetAfter(t *testing.T) {
	u := newUpstream(t)
	p := startProxy(t, u, 2)
	p.Set(Faults{ResetAfter: Range{1000, 2000}})
	c := client(t, p, false)
	const tries = 20
	for i := range tries {
		body, _, err := get(c, p.Endpoint+"/big?n=1048576")
		if err == nil {
			t.Fatalf("try %d: GET of 1 MiB succeeded through ResetAfter [1000,2000]", i)
		}
		if len(body) > 2000 {
			t.Errorf("try %d: %d body bytes before the reset; want <= 2000", i, len(body))
		}
		if i == 0 {
			t.Logf("first try: %d body bytes, then %v", len(body), err)
		}
	}
	s := p.Stats()
	t.Logf("stats: %v", s)
	if s.Resets != tries || s.BytesDown > tries*2000 || s.BytesDown < tries*1000 {
		t.Errorf("stats %v; want %d resets of 1000..2000 bytes each", s, tries)
	}

	// Off again: the same proxy passes a whole response.
	p.Set(Faults{})
	if body, _, err := get(c, p.Endpoint+"/big?n=1048576"); err != nil || len(body) != 1<<20 {
		t.Errorf("after the faults were cleared: %d bytes, %v", len(body), err)
	}
}

// Faults set while a connection is open apply to it from then on.
func TestFaultsChangeOnOpenConnection(t *testing.T) {
	u := newUpstream(t)
	p := startProxy(t, u, 3)
	c := client(t, p, true)
	if _, _, err := get(c, p.Endpoint+"/big?n=100000"); err != nil {
		t.Fatal(err)
	}
	p.Update(func(f *Faults) { f.ResetAfter = Range{1000, 2000} })
	body, _, err := get(c, p.Endpoint+"/big?n=1048576")
	if err == nil || len(body) > 2000 {
		t.Errorf("GET on the open connection after ResetAfter was set: %d bytes, %v; want an error after <= 2000", len(body), err)
	}
	if s := p.Stats(); s.Connections != 1 || s.Resets != 1 {
		t.Errorf("stats %v; want the one connection reset", s)
	}
}

func TestLoseResponses(t *testing.T) {
	u := newUpstream(t)
	p := startProxy(t, u, 4)
	p.Set(Faults{LoseResponses: 1})
	c := client(t, p, false)

	out, err := post(c, p.Endpoint+"/post", pattern(10000), false)
	t.Logf("POST of 10000 bytes: %q, %v", out, err)
	if err == nil {
		t.Errorf("POST succeeded with LoseResponses=1")
	}
	// A large body sent after "100 Continue": the interim answer passes, the final is lost.
	out, err = post(c, p.Endpoint+"/post", pattern(3<<20), true)
	t.Logf("POST of 3 MiB with Expect: 100-continue: %q, %v", out, err)
	if err == nil {
		t.Errorf("POST with 100-continue succeeded with LoseResponses=1")
	}
	if got := u.postsSeen(); len(got) != 2 || got[0] != 10000 || got[1] != 3<<20 {
		t.Errorf("the server stored POSTs of %v bytes; want [10000 %d]: a lost response is one the server answered", got, 3<<20)
	}
	s := p.Stats()
	t.Logf("stats: %v", s)
	if s.LostResponses != 2 {
		t.Errorf("stats %v; want 2 lost responses", s)
	}

	p.Set(Faults{})
	if out, err := post(c, p.Endpoint+"/post", pattern(5), false); err != nil || out != "stored 5 bytes\n" {
		t.Errorf("POST after the faults were cleared: %q, %v", out, err)
	}
}

func TestStall(t *testing.T) {
	u := newUpstream(t)
	p := startProxy(t, u, 5)
	p.Set(Faults{StallProb: 1, StallFor: 400 * time.Millisecond})
	c := client(t, p, false)
	start := time.Now()
	body, _, err := get(c, p.Endpoint+"/big?n=262144")
	took := time.Since(start)
	if err != nil || !bytes.Equal(body, pattern(262144)) {
		t.Fatalf("GET through a stall: %d bytes, %v", len(body), err)
	}
	if took < 400*time.Millisecond {
		t.Errorf("GET took %v; want >= the 400ms stall", took)
	}
	if s := p.Stats(); s.Stalls != 1 {
		t.Errorf("stats %v; want 1 stall", s)
	}
}

func TestRefuseAndResetAll(t *testing.T) {
	u := newUpstream(t)
	p := startProxy(t, u, 6)
	c := client(t, p, true)
	if _, _, err := get(c, p.Endpoint+"/big?n=10"); err != nil {
		t.Fatal(err)
	}
	p.Set(Faults{Refuse: true})
	if n := p.ResetAll(); n != 1 {
		t.Errorf("ResetAll reset %d connections; want the 1 idle one", n)
	}
	start := time.Now()
	_, _, err := get(c, p.Endpoint+"/big?n=10")
	t.Logf("GET while refusing: %v after %v", err, time.Since(start))
	if err == nil {
		t.Errorf("GET succeeded while the proxy refuses connections")
	}
	s := p.Stats()
	if s.Refused == 0 || s.Connections != 1 {
		t.Errorf("stats %v; want refusals and no new connection", s)
	}
	p.Set(Faults{})
	if body, _, err := get(c, p.Endpoint+"/big?n=10"); err != nil || len(body) != 10 {
		t.Errorf("GET after refusals stopped: %v", err)
	}
}

func TestLatency(t *testing.T) {
	u := newUpstream(t)
	p := startProxy(t, u, 7)
	c := client(t, p, true)
	if _, _, err := get(c, p.Endpoint+"/big?n=10"); err != nil { // the handshake, outside the timing
		t.Fatal(err)
	}
	p.Set(Faults{Latency: 100 * time.Millisecond})
	start := time.Now()
	if _, _, err := get(c, p.Endpoint+"/big?n=10"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("a small GET took %v; want >= 200ms (one chunk each way at 100ms)", took)
	}
}

// The same seed and the same sequence of connections give the same faults.
func TestSeedReproducible(t *testing.T) {
	run := func(seed uint64) (Stats, []bool) {
		u := newUpstream(t)
		p := startProxy(t, u, seed)
		p.Set(Faults{ResetAfter: Range{1000, 50000}, LoseResponses: 0.3})
		c := client(t, p, false)
		var ok []bool
		for range 20 {
			_, _, err := get(c, p.Endpoint+"/big?n=40000")
			ok = append(ok, err == nil)
		}
		s := p.Stats()
		p.Close()
		return s, ok
	}
	s1, ok1 := run(42)
	s2, ok2 := run(42)
	s3, ok3 := run(43)
	t.Logf("seed 42: %v %v", s1, ok1)
	t.Logf("seed 43: %v %v", s3, ok3)
	if s1.BytesDown != s2.BytesDown || s1.Resets != s2.Resets || s1.LostResponses != s2.LostResponses || fmt.Sprint(ok1) != fmt.Sprint(ok2) {
		t.Errorf("two runs with seed 42 differ: %v %v / %v %v", s1, ok1, s2, ok2)
	}
	if s1.BytesDown == s3.BytesDown && fmt.Sprint(ok1) == fmt.Sprint(ok3) {
		t.Errorf("seeds 42 and 43 gave the same run")
	}
	if s1.LostResponses == 0 || s1.Resets == 0 {
		t.Errorf("seed 42: %v; want both resets and lost responses", s1)
	}
}

// Close ends every connection, a stalled one included, and returns once all goroutines
// are done.
func TestCloseStopsEverything(t *testing.T) {
	u := newUpstream(t)
	p := startProxy(t, u, 8)
	c := client(t, p, true)
	if _, _, err := get(c, p.Endpoint+"/big?n=10"); err != nil { // an idle connection
		t.Fatal(err)
	}
	p.Set(Faults{StallProb: 1, StallFor: time.Hour})
	var errs atomic.Int32
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c2 := client(t, p, false)
			if _, _, err := get(c2, p.Endpoint+"/big?n=100000"); err != nil {
				errs.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Stalls < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v", took)
	}
	wg.Wait()
	if errs.Load() != 3 {
		t.Errorf("%d of 3 stalled GETs failed when the proxy closed; want all", errs.Load())
	}
	if _, _, err := get(c, p.Endpoint+"/big?n=10"); err == nil {
		t.Errorf("GET after Close succeeded")
	}
	if err := p.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
