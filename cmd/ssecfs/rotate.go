package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

// rotateConfig is everything `ssecfs rotate` was told.
type rotateConfig struct {
	bucket, prefix string

	fromKeyFile, fromKeyEnv, fromKeyCommand string
	keyFile, keyEnv, keyCommand             string

	endpoint, region, profile, caBundle string
	insecureHTTP                        bool

	concurrency int
	dryRun      bool
}

const rotateUsage = `Usage: ssecfs rotate --from-key-file OLD --key-file NEW [flags] BUCKET[/PREFIX]

Re-encrypts every object under PREFIX that one of the OLD keys opens so that the first
NEW key opens it instead. The copy happens on the server (a keyed CopyObject onto the
object itself): no object data is downloaded. Metadata and Content-Type are kept.

Objects already under the new key are skipped, so an interrupted rotation resumes where
it stopped when run again. Objects that no key opens (or that are not SSE-C encrypted)
are never touched; they are listed at the end. The exit status is 0 only if every object
under PREFIX is under the new key at the end.

A mount whose keyring is NEW then OLD reads the bucket at every moment of a rotation.

Old keys (exactly one source; every key it holds is tried):
`

func newRotateFlags(c *rotateConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("ssecfs rotate", flag.ContinueOnError)
	fs.StringVar(&c.fromKeyFile, "from-key-file", "", "`FILE` of the old keys (format as --key-file)")
	fs.StringVar(&c.fromKeyEnv, "from-key-env", "", "environment variable `NAME` holding the old keys")
	fs.StringVar(&c.fromKeyCommand, "from-key-command", "", "shell `COMMAND` whose output is the old key file")

	fs.StringVar(&c.keyFile, "key-file", "", "`FILE` of the new keys: the first one is the key objects end up under")
	fs.StringVar(&c.keyEnv, "key-env", "", "environment variable `NAME` holding the new keys")
	fs.StringVar(&c.keyCommand, "key-command", "", "shell `COMMAND` whose output is the new key file")

	fs.StringVar(&c.endpoint, "endpoint", "", "S3 endpoint `URL` (https://...); default AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,\n"+
		"else AWS itself")
	fs.StringVar(&c.region, "region", "", "AWS `REGION`; default from AWS_REGION or the AWS config, else us-east-1")
	fs.StringVar(&c.profile, "profile", "", "`NAME` of a profile in the AWS config and credentials files")
	fs.StringVar(&c.caBundle, "ca-bundle", "", "PEM `FILE` of CA certificates to trust besides the system ones")
	fs.BoolVar(&c.insecureHTTP, "insecure-http", false, "allow an http:// endpoint (the keys then cross the network in clear)")

	fs.IntVar(&c.concurrency, "concurrency", 4, "how many objects to re-encrypt at once (`N`)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "change nothing: count the objects under each key")

	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, rotateUsage)
		printFlags(fs, "from-key-file", "from-key-env", "from-key-command")
		fmt.Fprintln(out, "\nNew keys (exactly one source):")
		printFlags(fs, "key-file", "key-env", "key-command")
		fmt.Fprintln(out, "\nWhere the bucket is:")
		printFlags(fs, "endpoint", "region", "profile", "ca-bundle", "insecure-http")
		fmt.Fprintln(out, "\nRunning:")
		printFlags(fs, "concurrency", "dry-run")
	}
	return fs
}

func parseRotateArgs(args []string) (*rotateConfig, error) {
	c := &rotateConfig{}
	fs := newRotateFlags(c)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		fs.Usage()
		return nil, fmt.Errorf("want BUCKET[/PREFIX], got %d argument(s)", len(pos))
	}
	if c.bucket, c.prefix, err = parseTarget(pos[0]); err != nil {
		return nil, err
	}
	if c.fromKeyFile == "" && c.fromKeyEnv == "" && c.fromKeyCommand == "" {
		return nil, fmt.Errorf("no old keys: give one of --from-key-file, --from-key-env, --from-key-command")
	}
	if c.keyFile == "" && c.keyEnv == "" && c.keyCommand == "" {
		return nil, fmt.Errorf("no new key: give one of --key-file, --key-env, --key-command")
	}
	if c.concurrency < 1 || c.concurrency > 256 {
		return nil, fmt.Errorf("--concurrency %d: want 1 to 256", c.concurrency)
	}
	return c, nil
}

// runRotate is `ssecfs rotate`. It returns the exit status.
func runRotate(args []string) int {
	c, err := parseRotateArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs rotate: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	code, err := rotate(ctx, c, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs rotate: %v\n", err)
	}
	return code
}

// rotateJob is what happened to one object.
type rotateOutcome int

const (
	outcomeRotated    rotateOutcome = iota // re-encrypted under the new key (or would be)
	outcomeAlready                         // already under the new key
	outcomeUnreadable                      // no key opens it, or it is not SSE-C encrypted
	outcomeGone                            // deleted since the listing
	outcomeFailed                          // an error
)

type rotateResult struct {
	entry   bucket.Entry
	outcome rotateOutcome
	fromKey int // index in the working keyring of the key that opened it
	size    int64
	reason  string
}

func loadKeys(ctx context.Context, what string, o keysrc.Options) (*keysrc.Keyring, error) {
	r, err := keysrc.Load(ctx, o)
	if err != nil {
		// Load names the flags of mount; say which set was wrong.
		return nil, fmt.Errorf("%s keys: %w", what, err)
	}
	return r, nil
}

func rotate(ctx context.Context, c *rotateConfig, out io.Writer) (int, error) {
	disableCoreDumps(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	kctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	oldRing, err := loadKeys(kctx, "old (--from-key-*)", keysrc.Options{File: c.fromKeyFile, Env: c.fromKeyEnv, Command: c.fromKeyCommand})
	if err != nil {
		cancel()
		return 2, err
	}
	newRing, err := loadKeys(kctx, "new (--key-*)", keysrc.Options{File: c.keyFile, Env: c.keyEnv, Command: c.keyCommand})
	cancel()
	if err != nil {
		return 2, err
	}
	newKey := newRing.Current()
	ring, err := keysrc.NewKeyring(append([]keysrc.Key{newKey}, oldRing.Keys()...)...)
	if err != nil {
		return 2, err
	}
	verifyRing, err := keysrc.NewKeyring(newKey)
	if err != nil {
		return 2, err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := bucket.Config{
		Bucket:       c.bucket,
		Endpoint:     c.endpoint,
		Region:       c.region,
		Profile:      c.profile,
		CABundle:     c.caBundle,
		InsecureHTTP: c.insecureHTTP,
		Keyring:      ring,
		Logger:       logger,
	}
	b, err := bucket.Open(ctx, cfg)
	if err != nil {
		return 1, err
	}
	// Endpoint, TLS, credentials, bucket: one actionable line if wrong. It also warns
	// when the bucket blocks SSE-C writes, which would make every copy fail.
	if err := b.Check(ctx, c.prefix); err != nil {
		return 1, err
	}
	cfg.Keyring = verifyRing
	vb, err := bucket.Open(ctx, cfg)
	if err != nil {
		return 1, err
	}
	fps := ring.Fingerprints()
	newFP := fps[0]

	var entries []bucket.Entry
	if err := b.ListAll(ctx, c.prefix, func(page []bucket.Entry) error {
		entries = append(entries, page...)
		return nil
	}); err != nil {
		return 1, err
	}
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	verb := "rotating"
	if c.dryRun {
		verb = "checking"
	}
	fmt.Fprintf(out, "%s %d objects (%s) under s3://%s/%s to key %s (old keys: %s)\n",
		verb, len(entries), humanBytes(total), c.bucket, c.prefix, newFP, strings.Join(fps[1:], ", "))

	prog := newRotateProgress(out, len(entries), total)
	prog.start()
	results := make([]rotateResult, len(entries))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = rotateOne(ctx, b, vb, entries[i], c.dryRun)
				prog.add(entries[i].Size)
			}
		}()
	}
	for i := range entries {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	prog.stop()
	if ctx.Err() != nil {
		return 1, fmt.Errorf("interrupted; run the same command again to finish (objects already under the new key are skipped)")
	}
	return rotateSummary(out, results, fps, c.dryRun), nil
}

// rotateOne re-encrypts one object under the current key of b, then checks with vb,
// which holds only that key, that the new key opens it.
func rotateOne(ctx context.Context, b, vb *bucket.Bucket, e bucket.Entry, dryRun bool) rotateResult {
	r := rotateResult{entry: e, size: e.Size}
	idx, info, err := b.WhichKey(ctx, e.Key)
	switch {
	case errors.Is(err, bucket.ErrNotFound):
		r.outcome = outcomeGone
		return r
	case errors.Is(err, bucket.ErrAccessDenied):
		r.outcome, r.reason = outcomeUnreadable, "no key opens it"
		return r
	case err != nil:
		r.outcome, r.reason = outcomeFailed, err.Error()
		return r
	case idx == bucket.NotSSEC:
		r.outcome, r.reason = outcomeUnreadable, "not SSE-C encrypted"
		return r
	case idx == 0:
		r.outcome = outcomeAlready
		return r
	}
	r.fromKey, r.size = idx, info.Size
	if dryRun {
		r.outcome = outcomeRotated
		return r
	}
	if err := rotateCopy(ctx, b, info); err != nil {
		r.outcome, r.reason = outcomeFailed, err.Error()
		return r
	}
	// A fresh check with only the new key: b remembers which key opened the object.
	vinfo, err := vb.Head(ctx, e.Key)
	switch {
	case err != nil:
		r.outcome, r.reason = outcomeFailed, "re-encrypted, but the new key does not open it: "+err.Error()
	case !vinfo.Encrypted:
		r.outcome, r.reason = outcomeFailed, "re-encrypted, but it is no longer SSE-C encrypted"
	case vinfo.Size != info.Size:
		r.outcome, r.reason = outcomeFailed, fmt.Sprintf("re-encrypted, but its size changed from %d to %d", info.Size, vinfo.Size)
	default:
		r.outcome = outcomeRotated
	}
	return r
}

// rotateCopy copies the object onto itself under the current key, keeping its
// metadata and content headers. Zero-length directory markers ("dir/") are rewritten with a keyed PUT when
// the server refuses to copy them (SeaweedFS does).
func rotateCopy(ctx context.Context, b *bucket.Bucket, info bucket.ObjectInfo) error {
	_, err := b.Reencrypt(ctx, info.Key, info.ETag, info.Size)
	if err == nil || info.Size != 0 || !strings.HasSuffix(info.Key, "/") || errors.Is(err, bucket.ErrChanged) {
		return err
	}
	_, err = b.Put(ctx, info.Key, nil, info.Metadata, bucket.Condition{})
	return err
}

// rotateSummary prints what happened and returns the exit status.
func rotateSummary(out io.Writer, results []rotateResult, fps []string, dryRun bool) int {
	type tally struct {
		n     int
		bytes int64
	}
	byKey := make([]tally, len(fps))
	var already, gone int
	var unreadable, failed []rotateResult
	for _, r := range results {
		switch r.outcome {
		case outcomeRotated:
			byKey[r.fromKey].n++
			byKey[r.fromKey].bytes += r.size
		case outcomeAlready:
			already++
		case outcomeGone:
			gone++
		case outcomeUnreadable:
			unreadable = append(unreadable, r)
		case outcomeFailed:
			failed = append(failed, r)
		}
	}
	rotated, rotatedBytes := 0, int64(0)
	for i := 1; i < len(fps); i++ {
		rotated += byKey[i].n
		rotatedBytes += byKey[i].bytes
	}
	if dryRun {
		for i := 1; i < len(fps); i++ {
			if byKey[i].n > 0 {
				fmt.Fprintf(out, "would rotate %d objects (%s) from key %s\n", byKey[i].n, humanBytes(byKey[i].bytes), fps[i])
			}
		}
		fmt.Fprintf(out, "would rotate %d objects (%s) in all to key %s\n", rotated, humanBytes(rotatedBytes), fps[0])
	} else {
		keysUsed := 0
		for i := 1; i < len(fps); i++ {
			if byKey[i].n > 0 {
				keysUsed++
				fmt.Fprintf(out, "rotated %d objects (%s) from key %s to key %s\n", byKey[i].n, humanBytes(byKey[i].bytes), fps[i], fps[0])
			}
		}
		if keysUsed != 1 {
			fmt.Fprintf(out, "rotated %d objects (%s) in all to key %s\n", rotated, humanBytes(rotatedBytes), fps[0])
		}
	}
	fmt.Fprintf(out, "%d objects already under key %s\n", already, fps[0])
	if gone > 0 {
		fmt.Fprintf(out, "%d objects deleted during the run\n", gone)
	}
	sortByName := func(a, b rotateResult) int { return strings.Compare(a.entry.Key, b.entry.Key) }
	slices.SortFunc(unreadable, sortByName)
	slices.SortFunc(failed, sortByName)
	fmt.Fprintf(out, "%d objects under no key (left untouched)", len(unreadable))
	if len(unreadable) > 0 {
		fmt.Fprint(out, ":")
	}
	fmt.Fprintln(out)
	for _, r := range unreadable {
		fmt.Fprintf(out, "  %s (%s)\n", r.entry.Key, r.reason)
	}
	if !dryRun || len(failed) > 0 {
		fmt.Fprintf(out, "%d objects failed", len(failed))
		if len(failed) > 0 {
			fmt.Fprint(out, ":")
		}
		fmt.Fprintln(out)
		for _, r := range failed {
			fmt.Fprintf(out, "  %s: %s\n", r.entry.Key, r.reason)
		}
	}
	if len(unreadable) > 0 || len(failed) > 0 {
		return 1
	}
	return 0
}
