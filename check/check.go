// Package check tells, in plain words, whether a bucket can be used with a keyring, and
// if not, why and what to do. Step by step: the keys load; the endpoint answers over
// TLS, accepts the credentials and lists the bucket; the bucket's encryption
// configuration does not block SSE-C writes (with the command that lifts a block); a
// probe object is written, read back and deleted with the current key; and a sample of
// the objects is counted by the key that opens each. Each step prints one line (ok,
// FAILED, unknown, skipped, warning) and perhaps details under it; the last line is the
// verdict, with the first failure's reason. Keys appear only as fingerprints.
package check

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

// Config is what to check.
type Config struct {
	// Keys says where the keys are.
	Keys keysrc.Options
	// Bucket says which bucket and how to reach it. Its Keyring, MaxAttempts and Logger
	// are set by Run.
	Bucket bucket.Config
	// Prefix is "" or ends in "/": the probe object is written there, and the sample
	// taken under it.
	Prefix string
	// ReadOnly checks for a read-only mount: no probe object is written, and a bucket
	// that blocks SSE-C writes is fine.
	ReadOnly bool
	// Sample is how many objects under Prefix to try the keys on (0: none).
	Sample int
}

// checkAttempts bounds the tries of each request: a user waiting for a verdict wants it
// soon, not after every retry.
const checkAttempts = 3

// Run checks, printing a line per step and the verdict to out. It answers true when the
// bucket can be used with the keys and every sampled object opens.
func Run(ctx context.Context, c Config, out io.Writer) bool {
	r := &report{out: out}
	r.run(ctx, c)
	return r.finish(c)
}

// report prints one line per step and remembers the first failure.
type report struct {
	out    io.Writer
	failed string // the first failure's reason
}

func (r *report) line(status, format string, args ...any) {
	fmt.Fprintf(r.out, "%-8s %s\n", status, fmt.Sprintf(format, args...))
}

func (r *report) ok(format string, args ...any)      { r.line("ok", format, args...) }
func (r *report) unknown(format string, args ...any) { r.line("unknown", format, args...) }
func (r *report) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.line("FAILED", "%s", msg)
	if r.failed == "" {
		r.failed = msg
	}
}
func (r *report) detail(format string, args ...any) {
	fmt.Fprintf(r.out, "%-8s   %s\n", "", fmt.Sprintf(format, args...))
}

// finish prints the verdict.
func (r *report) finish(c Config) bool {
	target := c.Bucket.Bucket
	if c.Prefix != "" {
		target += "/" + strings.TrimSuffix(c.Prefix, "/")
	}
	if r.failed != "" {
		fmt.Fprintf(r.out, "ssecfs check: %s cannot be used with these keys: %s\n", target, r.failed)
		return false
	}
	how := ""
	if c.ReadOnly {
		how = " (read-only)"
	}
	fmt.Fprintf(r.out, "ssecfs check: %s can be used with these keys%s\n", target, how)
	return true
}

func (r *report) run(ctx context.Context, c Config) {
	keys, err := keysrc.Load(ctx, c.Keys)
	if err != nil {
		r.fail("keys: %v", err)
		return
	}
	r.ok("keys: %s", describeKeyring(keys))

	cfg := c.Bucket
	cfg.Keyring = keys
	cfg.MaxAttempts = checkAttempts
	cfg.Logger = slog.New(slog.DiscardHandler) // every finding is printed instead
	store, err := bucket.Open(ctx, cfg)
	if err != nil {
		r.fail("endpoint: %v", err)
		return
	}
	if err := store.Check(ctx, c.Prefix); err != nil {
		r.fail("endpoint, credentials, bucket: %v", err)
		return
	}
	r.ok("endpoint, credentials, bucket: %s answers, accepts the credentials, and bucket %q can be listed", store.Where(), cfg.Bucket)
	if cfg.InsecureHTTP && strings.HasPrefix(store.Where(), "http:") {
		r.line("warning", "--insecure-http: the keys cross the network in clear; treat them as compromised")
	}

	r.encryption(ctx, c, store)
	if c.ReadOnly {
		r.line("skipped", "probe write: --read-only, so no probe object was written")
	} else {
		r.probe(ctx, c, store, keys)
	}
	r.sample(ctx, c, store, keys)
}

func describeKeyring(keys *keysrc.Keyring) string {
	fps := keys.Fingerprints()
	s := fmt.Sprintf("%d key(s) loaded; the current key (writes) is %s", len(fps), fps[0])
	if len(fps) > 1 {
		s += "; older keys (reads only): " + strings.Join(fps[1:], ", ")
	}
	return s
}
