// Package rotate moves the objects under a prefix from old SSE-C keys to a new one, on
// the server. Each object that an old key opens is copied onto itself under the new key
// (a keyed CopyObject: no object data is downloaded), with its metadata and content
// headers, and the copy is then checked with a keyed HEAD by a client that holds only
// the new key.
//
// A rotation is idempotent and resumable: objects already under the new key are
// skipped, so one that was interrupted is finished by running it again. It never
// touches an object it cannot read: objects that no key opens, and objects that are not
// SSE-C encrypted, are only listed in the summary. While it runs it reports progress;
// at the end, what happened, by key. Keys appear only as fingerprints.
package rotate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

// Config is one rotation.
type Config struct {
	// Bucket says which bucket and how to reach it. Its Keyring is not used: Run makes
	// its own from Old and New.
	Bucket bucket.Config
	// Prefix is "" or ends in "/"; the objects under it, at any depth, are rotated.
	Prefix string
	// Old holds the keys the objects are under now; every one is tried.
	Old *keysrc.Keyring
	// New holds the key the objects end up under: its current key.
	New *keysrc.Keyring
	// Concurrency is how many objects are re-encrypted at once (at least 1).
	Concurrency int
	// DryRun changes nothing: it counts the objects under each key.
	DryRun bool
}

// Run rotates, writing progress and then the summary to out. It answers true when
// nothing was left behind: every object under the prefix is under the new key (for a
// dry run, is or would be). The objects left behind are named in the summary. An error
// means the rotation could not run to the end: the bucket could not be opened, checked
// or listed, or ctx ended; running it again finishes it.
func Run(ctx context.Context, c Config, out io.Writer) (bool, error) {
	newKey := c.New.Current()
	// The working keyring is the new key then the old ones: an object the new key
	// opens is done, one an old key opens is copied under the new key.
	ring, err := keysrc.NewKeyring(append([]keysrc.Key{newKey}, c.Old.Keys()...)...)
	if err != nil {
		return false, err
	}
	verifyRing, err := keysrc.NewKeyring(newKey)
	if err != nil {
		return false, err
	}
	cfg := c.Bucket
	cfg.Keyring = ring
	b, err := bucket.Open(ctx, cfg)
	if err != nil {
		return false, err
	}
	// Endpoint, TLS, credentials, bucket: one actionable line if wrong. It also warns
	// when the bucket blocks SSE-C writes, which would make every copy fail.
	if err := b.Check(ctx, c.Prefix); err != nil {
		return false, err
	}
	cfg.Keyring = verifyRing
	vb, err := bucket.Open(ctx, cfg)
	if err != nil {
		return false, err
	}
	fps := ring.Fingerprints()

	var entries []bucket.Entry
	if err := b.ListAll(ctx, c.Prefix, func(page []bucket.Entry) error {
		entries = append(entries, page...)
		return nil
	}); err != nil {
		return false, err
	}
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	verb := "rotating"
	if c.DryRun {
		verb = "checking"
	}
	fmt.Fprintf(out, "%s %d objects (%s) under s3://%s/%s to key %s (old keys: %s)\n",
		verb, len(entries), humanBytes(total), cfg.Bucket, c.Prefix, fps[0], strings.Join(fps[1:], ", "))

	prog := newProgress(out, len(entries), total)
	prog.start()
	results := make([]result, len(entries))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(c.Concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = rotateOne(ctx, b, vb, entries[i], c.DryRun)
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
		return false, errors.New("interrupted; run the same command again to finish (objects already under the new key are skipped)")
	}
	return summarize(out, results, fps, c.DryRun), nil
}

// outcome is what happened to one object.
type outcome int

const (
	rotated    outcome = iota // re-encrypted under the new key (or would be)
	already                   // already under the new key
	unreadable                // no key opens it, or it is not SSE-C encrypted
	gone                      // deleted since the listing
	failed                    // an error
)

// result is what happened to one object.
type result struct {
	entry   bucket.Entry
	outcome outcome
	fromKey int // index in the working keyring of the key that opened it
	size    int64
	reason  string
}

// rotateOne re-encrypts one object under the current key of b, then checks with vb,
// which holds only that key, that the new key opens it.
func rotateOne(ctx context.Context, b, vb *bucket.Bucket, e bucket.Entry, dryRun bool) result {
	r := result{entry: e, size: e.Size}
	idx, info, err := b.WhichKey(ctx, e.Key)
	switch {
	case errors.Is(err, bucket.ErrNotFound):
		r.outcome = gone
		return r
	case errors.Is(err, bucket.ErrAccessDenied):
		r.outcome, r.reason = unreadable, "no key opens it"
		return r
	case err != nil:
		r.outcome, r.reason = failed, err.Error()
		return r
	case idx == bucket.NotSSEC:
		r.outcome, r.reason = unreadable, "not SSE-C encrypted"
		return r
	case idx == 0:
		r.outcome = already
		return r
	}
	r.fromKey, r.size = idx, info.Size
	if dryRun {
		r.outcome = rotated
		return r
	}
	if err := reencrypt(ctx, b, info); err != nil {
		r.outcome, r.reason = failed, err.Error()
		return r
	}
	// A fresh check with only the new key: b remembers which key opened the object.
	vinfo, err := vb.Head(ctx, e.Key)
	switch {
	case err != nil:
		r.outcome, r.reason = failed, "re-encrypted, but the new key does not open it: "+err.Error()
	case !vinfo.Encrypted:
		r.outcome, r.reason = failed, "re-encrypted, but it is no longer SSE-C encrypted"
	case vinfo.Size != info.Size:
		r.outcome, r.reason = failed, fmt.Sprintf("re-encrypted, but its size changed from %d to %d", info.Size, vinfo.Size)
	default:
		r.outcome = rotated
	}
	return r
}

// reencrypt copies the object onto itself under the current key, keeping its metadata
// and content headers. Zero-length directory markers ("dir/") are rewritten with a
// keyed PUT when the server refuses to copy them (SeaweedFS does).
func reencrypt(ctx context.Context, b *bucket.Bucket, info bucket.ObjectInfo) error {
	_, err := b.Reencrypt(ctx, info.Key, info.ETag, info.Size)
	if err == nil || info.Size != 0 || !strings.HasSuffix(info.Key, "/") || errors.Is(err, bucket.ErrChanged) {
		return err
	}
	_, err = b.Put(ctx, info.Key, nil, info.Metadata, bucket.Condition{})
	return err
}
