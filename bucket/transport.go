package bucket

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// newHTTPClient builds the client every request goes through. Extra CA bundles are added
// to the system pool rather than replacing it (the SDK's own AWS_CA_BUNDLE handling
// replaces it), and the transport itself refuses plain HTTP unless allowed, so no code
// path (a redirect, an endpoint from a config file) can send a key in clear.
func newHTTPClient(cfg *Config) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range []struct{ path, from string }{
		{os.Getenv("AWS_CA_BUNDLE"), "AWS_CA_BUNDLE"},
		{cfg.CABundle, "--ca-bundle"},
	} {
		if f.path == "" {
			continue
		}
		pem, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("reading CA bundle (%s): %w", f.from, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s (%s) holds no PEM certificate", f.path, f.from)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.ResponseHeaderTimeout = time.Minute
	if err := TuneTransport(tr, cfg.HTTPVersion); err != nil {
		return nil, err
	}
	var rt http.RoundTripper = &httpsOnly{next: tr, allowHTTP: cfg.InsecureHTTP}
	if cfg.WrapTransport != nil {
		rt = cfg.WrapTransport(rt)
	}
	return &http.Client{
		Transport: rt,
		// S3 does not redirect requests we want followed; a redirect could only move a
		// key somewhere we did not choose.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// errPlainHTTP is returned by the transport for a request that would leave over http.
var errPlainHTTP = errors.New("refusing to send a request over plain HTTP (use https, or --insecure-http)")

type httpsOnly struct {
	next      http.RoundTripper
	allowHTTP bool
}

func (h *httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !h.allowHTTP {
		return nil, errPlainHTTP
	}
	return h.next.RoundTrip(req)
}

// HTTPVersion is the HTTP protocol spoken to S3.
type HTTPVersion string

const (
	// HTTPAuto lets TLS's ALPN choose: HTTP/2 where the server offers it, else
	// HTTP/1.1. AWS S3 answers HTTP/1.1 only.
	HTTPAuto HTTPVersion = ""
	// HTTP1 is HTTP/1.1 only: one request at a time per connection, as many
	// connections as requests in flight (as against AWS S3).
	HTTP1 HTTPVersion = "1.1"
	// HTTP2 is HTTP/2 only, over TLS: every request of a host multiplexed on one
	// connection. A server that does not offer it is refused.
	HTTP2 HTTPVersion = "2"
)

// ParseHTTPVersion reads "auto", "1.1" or "2" (also "", "1", "http/1.1", "h2",
// "http/2").
func ParseHTTPVersion(s string) (HTTPVersion, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return HTTPAuto, nil
	case "1.1", "1", "http/1.1", "http1.1", "h1":
		return HTTP1, nil
	case "2", "2.0", "http/2", "http2", "h2":
		return HTTP2, nil
	}
	return HTTPAuto, fmt.Errorf("%q is not an HTTP version: want auto, 1.1 or 2", s)
}

// String is the version as --http-version spells it.
func (v HTTPVersion) String() string {
	if v == HTTPAuto {
		return "auto"
	}
	return string(v)
}

// idleConnsPerHost keeps a connection per request in flight for reuse over HTTP/1.1
// (net/http keeps two, so every request past two in flight would cost a TLS handshake).
const idleConnsPerHost = 64

// TuneTransport sets tr up to speak version v to S3, for bulk transfers. The bench's SDK
// ceiling uses it too, so that both run at the same settings.
//
// What was measured (make bench's SDK ceiling against SeaweedFS over TLS on two cores, and
// a Go TLS server in another process reading into 128 KiB pages as the cache does), and is
// therefore left at net/http's defaults:
//   - HTTP/1.1 buffers stay at 4 KiB. A read buffer larger than the caller's reads adds a
//     copy of every byte (bufio fills itself, then copies out), and ranges are read
//     straight into 128 KiB cache pages: 256 KiB buffers cost about 10% more CPU per GiB
//     read, 64 KiB buffers no less than 4 KiB. Request bodies are written past the buffer
//     once it has been filled: no difference in CPU or throughput for writes.
//   - HTTP/2 receive windows stay at 4 MiB a stream and 1 GiB a connection: 16 MiB and
//     256 MiB, or 64 MiB and 1 GiB, were no faster (medians of 5 runs within noise, the
//     same CPU). One HTTP/2 connection is limited by its TLS stream (one core a side) and
//     by the copy of each frame into the stream's buffer, not by flow control.
func TuneTransport(tr *http.Transport, v HTTPVersion) error {
	tr.MaxIdleConns = 4 * idleConnsPerHost
	tr.MaxIdleConnsPerHost = idleConnsPerHost
	var p http.Protocols
	switch v {
	case HTTPAuto:
		// As net/http does with ForceAttemptHTTP2 (a custom TLS config otherwise
		// turns HTTP/2 off): ALPN offers both.
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	case HTTP1:
		p.SetHTTP1(true)
	case HTTP2:
		// Over TLS only: HTTP/2 in clear (h2c) is not offered.
		p.SetHTTP2(true)
	default:
		return fmt.Errorf("unknown HTTP version %q", string(v))
	}
	tr.Protocols = &p
	return nil
}
