package bucket

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type countingTripper struct{ calls int }

func (c *countingTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	c.calls++
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

func TestHTTPSOnly(t *testing.T) {
	cases := []struct {
		url       string
		allowHTTP bool
		wantErr   bool
	}{
		{"https://s3.example.com/b/k", false, false},
		{"http://s3.example.com/b/k", false, true},
		{"http://s3.example.com/b/k", true, false},
		{"https://s3.example.com/b/k", true, false},
	}
	for _, tc := range cases {
		next := &countingTripper{}
		rt := &httpsOnly{next: next, allowHTTP: tc.allowHTTP}
		req, err := http.NewRequest(http.MethodGet, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rt.RoundTrip(req)
		if tc.wantErr {
			if !errors.Is(err, errPlainHTTP) {
				t.Errorf("%s (allowHTTP=%v): err = %v, want errPlainHTTP", tc.url, tc.allowHTTP, err)
			}
			if resp != nil {
				t.Errorf("%s: a response came back with the error", tc.url)
			}
			if next.calls != 0 {
				t.Errorf("%s: the request reached the next transport (%d calls)", tc.url, next.calls)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s (allowHTTP=%v): %v", tc.url, tc.allowHTTP, err)
			continue
		}
		resp.Body.Close()
		if next.calls != 1 {
			t.Errorf("%s: next transport called %d times, want 1", tc.url, next.calls)
		}
	}
}

// The client refuses plain HTTP end to end, without dialling: nothing listens on the
// address.
func TestHTTPClientRefusesPlainHTTP(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	c, err := newHTTPClient(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get("http://127.0.0.1:1/b/k")
	if !errors.Is(err, errPlainHTTP) {
		t.Errorf("GET over http: err = %v, want errPlainHTTP", err)
	}
}

func TestHTTPClientWrapTransport(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	var wrapped http.RoundTripper
	c, err := newHTTPClient(&Config{WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
		wrapped = rt
		return rt
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := wrapped.(*httpsOnly); !ok {
		t.Errorf("WrapTransport got %T, want the https-only transport inside", wrapped)
	}
	if c.Transport != wrapped {
		t.Errorf("client transport is not the wrapped one")
	}
	if c.CheckRedirect == nil || c.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Errorf("redirects are followed; want http.ErrUseLastResponse")
	}
}

func TestHTTPClientCABundle(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not-a-cert.pem")
	if err := os.WriteFile(notPEM, []byte("this is not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	t.Run("no PEM in --ca-bundle", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", "")
		_, err := newHTTPClient(&Config{CABundle: notPEM})
		if err == nil {
			t.Fatal("no error for a CA bundle without PEM")
		}
		if !strings.Contains(err.Error(), notPEM) || !strings.Contains(err.Error(), "--ca-bundle") {
			t.Errorf("error %q does not name the file and the flag", err)
		}
	})
	t.Run("missing --ca-bundle", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", "")
		_, err := newHTTPClient(&Config{CABundle: missing})
		if err == nil {
			t.Fatal("no error for a missing CA bundle")
		}
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "--ca-bundle") {
			t.Errorf("error %q: want a not-exist error naming --ca-bundle", err)
		}
	})
	t.Run("no PEM in AWS_CA_BUNDLE", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", notPEM)
		_, err := newHTTPClient(&Config{})
		if err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") || !strings.Contains(err.Error(), notPEM) {
			t.Errorf("err = %v, want one naming AWS_CA_BUNDLE and the file", err)
		}
	})
}

// --http-version chooses the protocol: auto takes HTTP/2 where the server offers it,
// 1.1 never asks for it, 2 refuses a server that does not offer it.
func TestHTTPClientVersion(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	start := func(h2 bool) (url, caFile string) {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%d", r.ProtoMajor)
		}))
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		t.Cleanup(srv.Close)
		caFile = filepath.Join(t.TempDir(), "ca.pem")
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		return srv.URL, caFile
	}
	protoOf := func(url, caFile string, v HTTPVersion) (string, error) {
		c, err := newHTTPClient(&Config{CABundle: caFile, HTTPVersion: v})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseIdleConnections()
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if got := fmt.Sprint(resp.ProtoMajor); err == nil && got != string(body) {
			t.Errorf("the client saw HTTP/%s, the server HTTP/%s", got, body)
		}
		return string(body), err
	}
	h2URL, h2CA := start(true)
	h1URL, h1CA := start(false)
	for _, tc := range []struct {
		url, ca string
		v       HTTPVersion
		want    string // the server's r.ProtoMajor, or "" for an error
	}{
		{h2URL, h2CA, HTTPAuto, "2"},
		{h2URL, h2CA, HTTP1, "1"},
		{h2URL, h2CA, HTTP2, "2"},
		{h1URL, h1CA, HTTPAuto, "1"},
		{h1URL, h1CA, HTTP1, "1"},
		{h1URL, h1CA, HTTP2, ""},
	} {
		got, err := protoOf(tc.url, tc.ca, tc.v)
		server := "an HTTP/2 server"
		if tc.url == h1URL {
			server = "an HTTP/1.1-only server"
		}
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("--http-version %v against %s: HTTP/%s, want an error", tc.v, server, got)
		case tc.want != "" && err != nil:
			t.Errorf("--http-version %v against %s: %v", tc.v, server, err)
		case got != tc.want:
			t.Errorf("--http-version %v against %s: HTTP/%s, want HTTP/%s", tc.v, server, got, tc.want)
		}
	}
	// The https-only rule holds whatever the version.
	for _, v := range []HTTPVersion{HTTPAuto, HTTP1, HTTP2} {
		c, err := newHTTPClient(&Config{HTTPVersion: v})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get("http://127.0.0.1:1/b/k"); !errors.Is(err, errPlainHTTP) {
			t.Errorf("--http-version %v: GET over http: %v, want errPlainHTTP", v, err)
		}
	}
	if _, err := newHTTPClient(&Config{HTTPVersion: "3"}); err == nil {
		t.Error("HTTP version 3: no error")
	}
}

func TestParseHTTPVersion(t *testing.T) {
	for in, want := range map[string]HTTPVersion{"": HTTPAuto, "auto": HTTPAuto, "1.1": HTTP1, "HTTP/1.1": HTTP1, "2": HTTP2, "h2": HTTP2} {
		if got, err := ParseHTTPVersion(in); err != nil || got != want {
			t.Errorf("ParseHTTPVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"3", "1.0", "http/3", "fast"} {
		if _, err := ParseHTTPVersion(in); err == nil || !strings.Contains(err.Error(), "auto, 1.1 or 2") {
			t.Errorf("ParseHTTPVersion(%q): %v, want an error listing the versions", in, err)
		}
	}
	for _, v := range []HTTPVersion{HTTPAuto, HTTP1, HTTP2} {
		if again, err := ParseHTTPVersion(v.String()); err != nil || again != v {
			t.Errorf("%q does not read back: %q, %v", v.String(), again, err)
		}
	}
}
