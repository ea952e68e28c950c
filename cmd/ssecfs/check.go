package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

// checkConfig is everything `ssecfs check` was told.
type checkConfig struct {
	target
	bucketFlags
	readOnly bool
	sample   int
}

const checkUsage = `Usage: ssecfs check [flags] BUCKET[/PREFIX]

Tells, in plain words, whether BUCKET (or only the keys under PREFIX) can be used with
these keys, and why not: the endpoint and credentials, the bucket's encryption
configuration, a probe object written, read back and deleted with the current key, and
which key opens each of a sample of the objects. Exits 0 when the bucket is usable and
every sampled object opens; otherwise 1, with the reason on the last line. Keys are only
ever shown by fingerprint.

Keys (exactly one source; the first key writes, the others are older keys):
`

// maxUnopened bounds how many objects that no key opens are named.
const maxUnopened = 20

// sampleParallel is how many sampled objects are probed at once.
const sampleParallel = 8

func newCheckFlags(c *checkConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("ssecfs check", flag.ContinueOnError)
	c.bucketFlags.register(fs)
	fs.BoolVar(&c.readOnly, "read-only", false, "check for a read-only mount: write no probe object, and do not fail\n"+
		"when the bucket blocks SSE-C writes")
	fs.IntVar(&c.sample, "sample", 100, "how many objects (`N`) under the prefix to try the keys on")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, checkUsage)
		printFlags(fs, keyFlagNames...)
		printWhereFlags(fs)
		fmt.Fprintln(out, "\nWhat to check:")
		printFlags(fs, "read-only", "sample")
	}
	return fs
}

func parseCheckArgs(args []string) (*checkConfig, error) {
	c := &checkConfig{}
	fs := newCheckFlags(c)
	if _, err := parseCommandLine(fs, args, &c.target); err != nil {
		return nil, err
	}
	if c.sample < 0 {
		return nil, fmt.Errorf("--sample %d: want 0 or more", c.sample)
	}
	return c, nil
}

// runCheck is `ssecfs check`. It returns the exit status.
func runCheck(args []string) int {
	c, err := parseCheckArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs check: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r := &checkReport{out: os.Stdout}
	r.run(ctx, c)
	return r.finish(c)
}

// checkReport prints one line per step and remembers the first failure.
type checkReport struct {
	out    io.Writer
	failed string // the first failure's reason
}

func (r *checkReport) line(status, format string, args ...any) {
	fmt.Fprintf(r.out, "%-8s %s\n", status, fmt.Sprintf(format, args...))
}

func (r *checkReport) ok(format string, args ...any)      { r.line("ok", format, args...) }
func (r *checkReport) unknown(format string, args ...any) { r.line("unknown", format, args...) }
func (r *checkReport) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.line("FAILED", "%s", msg)
	if r.failed == "" {
		r.failed = msg
	}
}
func (r *checkReport) detail(format string, args ...any) {
	fmt.Fprintf(r.out, "%-8s   %s\n", "", fmt.Sprintf(format, args...))
}

func (r *checkReport) finish(c *checkConfig) int {
	target := c.bucket
	if c.prefix != "" {
		target += "/" + strings.TrimSuffix(c.prefix, "/")
	}
	if r.failed != "" {
		fmt.Fprintf(r.out, "ssecfs check: %s cannot be used with these keys: %s\n", target, r.failed)
		return 1
	}
	how := ""
	if c.readOnly {
		how = " (read-only)"
	}
	fmt.Fprintf(r.out, "ssecfs check: %s can be used with these keys%s\n", target, how)
	return 0
}

func (r *checkReport) run(ctx context.Context, c *checkConfig) {
	keys, err := keysrc.Load(ctx, c.keys)
	if err != nil {
		r.fail("keys: %v", err)
		return
	}
	r.ok("keys: %s", describeKeyring(keys))

	cfg := c.config(c.bucket)
	cfg.Keyring = keys
	cfg.MaxAttempts = 3
	cfg.Logger = slog.New(slog.DiscardHandler) // every finding is printed below instead
	store, err := bucket.Open(ctx, cfg)
	if err != nil {
		r.fail("endpoint: %v", err)
		return
	}
	if err := store.Check(ctx, c.prefix); err != nil {
		r.fail("endpoint, credentials, bucket: %v", err)
		return
	}
	r.ok("endpoint, credentials, bucket: %s answers, accepts the credentials, and bucket %q can be listed", store.Where(), c.bucket)
	if c.insecureHTTP && strings.HasPrefix(store.Where(), "http:") {
		r.line("warning", "--insecure-http: the keys cross the network in clear; treat them as compromised")
	}

	r.checkEncryption(ctx, c, store)
	if c.readOnly {
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

func liftBlockCommand(name string) string {
	return "aws s3api put-bucket-encryption --bucket " + name + ` --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"},"BlockedEncryptionTypes":{"EncryptionType":["NONE"]}}]}'`
}

func (r *checkReport) checkEncryption(ctx context.Context, c *checkConfig, store *bucket.Bucket) {
	state, err := store.SSECWrites(ctx)
	switch state {
	case bucket.SSECAllowed:
		r.ok("encryption configuration: the bucket does not block SSE-C writes")
	case bucket.SSECBlocked:
		if c.readOnly {
			r.ok("encryption configuration: the bucket blocks SSE-C writes (BlockedEncryptionTypes includes SSE-C); " +
				"existing objects stay readable, which is all --read-only needs")
			return
		}
		r.fail("encryption configuration: the bucket blocks SSE-C writes (BlockedEncryptionTypes includes SSE-C), "+
			"so every write would be refused with 403; lift the block with: %s", liftBlockCommand(c.bucket))
	default:
		if err != nil {
			r.unknown("encryption configuration: could not read it (%v); if writes fail with 403, the bucket may block SSE-C writes", err)
			return
		}
		r.unknown("encryption configuration: the server does not report one (GetBucketEncryption is not implemented); " +
			"the probe write below shows whether writes work")
	}
}

func (r *checkReport) probe(ctx context.Context, c *checkConfig, store *bucket.Bucket, keys *keysrc.Keyring) {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := c.prefix + ".ssecfs-check-" + hex.EncodeToString(rnd[:])
	body := []byte("ssecfs check probe " + hex.EncodeToString(rnd[:]) + "\n")
	fp := keys.Current().Fingerprint()

	etag, err := store.Put(ctx, name, body, nil, bucket.Condition{})
	if err != nil {
		hint := ""
		if errors.Is(err, bucket.ErrAccessDenied) {
			hint = "; the credentials need s3:PutObject, and the bucket must not block SSE-C writes (if it does, lift it with: " +
				liftBlockCommand(c.bucket) + ")"
		}
		r.fail("probe write: writing %q with the current key %s failed: %v%s", name, fp, err, hint)
		return
	}
	got, rerr := store.ReadRange(ctx, name, etag, 0, int64(len(body)))
	derr := store.Delete(ctx, name)
	switch {
	case rerr != nil:
		r.fail("probe write: wrote %q with the current key %s but reading it back failed: %v", name, fp, rerr)
	case !bytes.Equal(got, body):
		r.fail("probe write: wrote %q with the current key %s but read back different bytes (%d instead of %d)", name, fp, len(got), len(body))
	case derr != nil:
		r.fail("probe write: wrote and read back %q with the current key %s, but deleting it failed: %v; "+
			"the credentials need s3:DeleteObject (remove it with: aws s3 rm s3://%s/%s)", name, fp, derr, c.bucket, name)
	default:
		r.ok("probe write: wrote, read back and deleted %q with the current key %s", name, fp)
	}
	if rerr != nil && derr != nil {
		r.detail("the probe object could not be deleted either (%v): remove it with: aws s3 rm s3://%s/%s", derr, c.bucket, name)
	}
}

func (r *checkReport) sample(ctx context.Context, c *checkConfig, store *bucket.Bucket, keys *keysrc.Keyring) {
	where := fmt.Sprintf("under %q", c.prefix)
	if c.prefix == "" {
		where = "in the bucket"
	}
	if c.sample == 0 {
		r.line("skipped", "sample: --sample 0, so no objects were tried")
		return
	}
	names, err := store.ListSample(ctx, c.prefix, c.sample)
	if err != nil {
		r.fail("sample: listing objects %s failed: %v", where, err)
		return
	}
	if len(names) == 0 {
		r.ok("sample: no objects %s yet, nothing to try the keys on", where)
		return
	}

	fps := keys.Fingerprints()
	byKey := make([]int, len(fps))
	var plain, gone int
	var unopened, failed []string
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, sampleParallel)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			i, _, err := store.WhichKey(ctx, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, bucket.ErrAccessDenied):
				unopened = append(unopened, name)
			case errors.Is(err, bucket.ErrNotFound):
				gone++ // deleted since it was listed
			case err != nil:
				failed = append(failed, name)
				if firstErr == nil {
					firstErr = err
				}
			case i == bucket.NotSSEC:
				plain++
			case i >= 0 && i < len(byKey):
				byKey[i]++
			}
		}()
	}
	wg.Wait()

	n := len(names) - gone
	opened := plain
	for _, k := range byKey {
		opened += k
	}
	status := r.ok
	if len(unopened) > 0 || len(failed) > 0 {
		status = func(format string, args ...any) { r.line("FAILED", format, args...) }
	}
	status("sample: %d of %d objects %s open with the keys", opened, n, where)
	for i, k := range byKey {
		if i == 0 {
			r.detail("%d of %d open with the current key %s", k, n, fps[0])
		} else if k > 0 {
			r.detail("%d of %d open with the older key %s (rewrite them, or keep the key)", k, n, fps[i])
		}
	}
	if plain > 0 {
		r.detail("%d of %d are not SSE-C encrypted (readable without a key)", plain, n)
	}
	if len(unopened) > 0 {
		slices.Sort(unopened)
		r.detail("%d of %d open with none of the keys:", len(unopened), n)
		for i, name := range unopened {
			if i == maxUnopened {
				r.detail("  ... and %d more", len(unopened)-maxUnopened)
				break
			}
			r.detail("  %s", name)
		}
	}
	if len(failed) > 0 {
		r.detail("%d of %d could not be tried: %v", len(failed), n, firstErr)
	}
	switch {
	case len(unopened) > 0 && r.failed == "":
		r.failed = fmt.Sprintf("%d of %d sampled objects %s open with none of the keys (%s): is this the right key file, "+
			"or is an older key missing from it?", len(unopened), n, where, strings.Join(fps, ", "))
	case len(failed) > 0 && r.failed == "":
		r.failed = fmt.Sprintf("%d of %d sampled objects %s could not be tried: %v", len(failed), n, where, firstErr)
	}
}
