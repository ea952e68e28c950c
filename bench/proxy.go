package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ssecfs/ssecfs/integration/faultproxy"
	"github.com/ssecfs/ssecfs/integration/s3server"
)

// countingProxy is a TLS reverse proxy on loopback in front of the S3 server that counts the requests going through
// it, so the requests of a real mount (ssecfs's binary, s3fs, rclone) can be counted alike. It has a CA of its own;
// CAFile holds both that CA and the server's, for the tools' trust settings. The Host header is passed on as the
// client sent it, so the client's SigV4 signature (which covers Host) still holds at the server.
type countingProxy struct {
	Endpoint string
	CAFile   string
	srv      *http.Server
	ln       net.Listener

	mu     sync.Mutex
	counts map[string]int
	protos map[string]bool // the HTTP versions of the requests counted, as "HTTP/1.1", "HTTP/2.0"
}

func startProxy(s *s3server.Server, dir string) (*countingProxy, error) {
	cert, caPEM, err := faultproxy.SelfSignedTLS("ssecfs bench proxy CA")
	if err != nil {
		return nil, err
	}
	serverCA, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, err
	}
	caFile := dir + "/proxy-ca-bundle.pem"
	if err := os.WriteFile(caFile, append(append([]byte{}, serverCA...), caPEM...), 0o644); err != nil {
		return nil, err
	}
	upstream, err := url.Parse(s.Endpoint)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(serverCA)
	tr := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
	}
	p := &countingProxy{CAFile: caFile, counts: map[string]int{}, protos: map[string]bool{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = r.In.Host
		},
		Transport: tr,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.ln = ln
	p.Endpoint = "https://" + ln.Addr().String()
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.note(r)
			rp.ServeHTTP(w, r)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: time.Minute,
		// HTTP/1.1 and HTTP/2, as the S3 server offers them: each tool speaks here what it speaks there (and
		// ssecfs --http-version 2 can be counted too).
		Protocols: protocols(true, true),
	}
	go func() { _ = p.srv.ServeTLS(ln, "", "") }()
	return p, nil
}

func protocols(h1, h2 bool) *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(h1)
	p.SetHTTP2(h2)
	return &p
}

// note counts r by kind: LIST (a GET of the bucket itself), or the method of a request that names an object.
func (p *countingProxy) note(r *http.Request) {
	_, object, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	kind := r.Method
	switch {
	case object == "" && r.Method == http.MethodGet:
		kind = "LIST"
	case object == "":
		kind = r.Method + "-bucket"
	}
	p.mu.Lock()
	p.counts[kind]++
	p.protos[r.Proto] = true
	p.mu.Unlock()
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	p.counts = map[string]int{}
	p.protos = map[string]bool{}
	p.mu.Unlock()
}

// versions are the HTTP versions of the requests counted since the reset: "1.1", "2", or "1.1+2".
func (p *countingProxy) versions() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for proto := range p.protos {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(proto, "HTTP/"), ".0"))
	}
	sort.Strings(out)
	return strings.Join(out, "+")
}

// snapshot returns the total and a breakdown like "10 LIST, 2 HEAD".
func (p *countingProxy) snapshot() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	var kinds []string
	for k, n := range p.counts {
		total += n
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return p.counts[kinds[i]] > p.counts[kinds[j]] })
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %s", commas(int64(p.counts[k])), k))
	}
	return total, strings.Join(parts, ", ")
}

func (p *countingProxy) Close() error {
	return p.srv.Close()
}
