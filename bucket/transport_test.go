package bucket

import (
	"errors"
	"io"
	"net/http"
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
