package bucket

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/ssecfs/ssecfs/keysrc"
)

// Config says which bucket to open and how to reach it.
type Config struct {
	// Bucket is the bucket name; Prefix, if any, is not handled here but by the caller.
	Bucket string
	// Endpoint is an S3-compatible endpoint URL. Empty means AWS_ENDPOINT_URL_S3,
	// then AWS_ENDPOINT_URL, then AWS itself for Region.
	Endpoint string
	// Region defaults to the AWS config's region, else us-east-1.
	Region string
	// Profile selects a profile of the shared AWS config and credentials files.
	Profile string
	// CABundle is a PEM file added to the system trust store (not replacing it).
	CABundle string
	// InsecureHTTP allows an http:// endpoint. The key then crosses the network in
	// clear and must be treated as compromised; without it such endpoints are refused.
	InsecureHTTP bool
	// HTTPVersion is the HTTP protocol spoken: HTTPAuto (TLS's ALPN chooses, as
	// net/http does), HTTP1 or HTTP2. AWS S3 speaks HTTP/1.1 only.
	HTTPVersion HTTPVersion
	// Keyring holds the keys: the first writes, all are tried on reads.
	Keyring *keysrc.Keyring
	// MaxAttempts bounds the tries of one request (first try included). Zero means 8.
	MaxAttempts int
	// RequestTimeout bounds one request, retries included. Zero means 2 minutes.
	RequestTimeout time.Duration
	// Logger receives warnings (never key material). Nil means slog.Default().
	Logger *slog.Logger
	// Uploads, if set, is told of every multipart upload started and ended.
	Uploads UploadJournal
	// WrapTransport, if set, wraps the HTTP transport; tests use it to watch requests.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Observer, if set, is told of every request sent, once, after its retries
	// (observe.go): metrics, the audit log, the debug log. Observers combines
	// several.
	Observer Observer
	// CallerOf, if set, finds in a request's context the process that caused it, when
	// WithCaller did not say (fs.CallerOf reads a FUSE request's caller).
	CallerOf func(context.Context) (Caller, bool)
}

func (c *Config) maxAttempts() int {
	if c.MaxAttempts > 0 {
		return c.MaxAttempts
	}
	return 8
}

func (c *Config) requestTimeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return 2 * time.Minute
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
