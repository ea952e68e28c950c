package bucket

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
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
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	tr.ResponseHeaderTimeout = time.Minute
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
