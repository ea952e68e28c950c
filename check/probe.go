package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

// probe writes a small object under the prefix with the current key, reads it back and
// deletes it.
func (r *report) probe(ctx context.Context, c Config, store *bucket.Bucket, keys *keysrc.Keyring) {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := c.Prefix + ".ssecfs-check-" + hex.EncodeToString(rnd[:])
	body := []byte("ssecfs check probe " + hex.EncodeToString(rnd[:]) + "\n")
	fp := keys.Current().Fingerprint()
	bkt := c.Bucket.Bucket

	etag, err := store.Put(ctx, name, body, nil, bucket.Condition{})
	if err != nil {
		hint := ""
		if errors.Is(err, bucket.ErrAccessDenied) {
			hint = "; the credentials need s3:PutObject, and the bucket must not block SSE-C writes (if it does, lift it with: " +
				liftBlockCommand(bkt) + ")"
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
			"the credentials need s3:DeleteObject (remove it with: aws s3 rm s3://%s/%s)", name, fp, derr, bkt, name)
	default:
		r.ok("probe write: wrote, read back and deleted %q with the current key %s", name, fp)
	}
	if rerr != nil && derr != nil {
		r.detail("the probe object could not be deleted either (%v): remove it with: aws s3 rm s3://%s/%s", derr, bkt, name)
	}
}
