package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

// maxUnopened bounds how many objects that no key opens are named.
const maxUnopened = 20

// sampleParallel is how many sampled objects are probed at once.
const sampleParallel = 8

// sample finds which key opens each of up to c.Sample objects under the prefix, and
// counts them by key. An object that no key opens is a failure.
func (r *report) sample(ctx context.Context, c Config, store *bucket.Bucket, keys *keysrc.Keyring) {
	where := fmt.Sprintf("under %q", c.Prefix)
	if c.Prefix == "" {
		where = "in the bucket"
	}
	if c.Sample == 0 {
		r.line("skipped", "sample: --sample 0, so no objects were tried")
		return
	}
	names, err := store.ListSample(ctx, c.Prefix, c.Sample)
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
