package check

import (
	"context"

	"github.com/ssecfs/ssecfs/bucket"
)

// liftBlockCommand is the AWS CLI command that lets SSE-C writes into bucket name.
func liftBlockCommand(name string) string {
	return "aws s3api put-bucket-encryption --bucket " + name + ` --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"},"BlockedEncryptionTypes":{"EncryptionType":["NONE"]}}]}'`
}

// encryption reads the bucket's encryption configuration: a bucket that blocks SSE-C
// writes fails, unless only reads are wanted.
func (r *report) encryption(ctx context.Context, c Config, store *bucket.Bucket) {
	state, err := store.SSECWrites(ctx)
	switch state {
	case bucket.SSECAllowed:
		r.ok("encryption configuration: the bucket does not block SSE-C writes")
	case bucket.SSECBlocked:
		if c.ReadOnly {
			r.ok("encryption configuration: the bucket blocks SSE-C writes (BlockedEncryptionTypes includes SSE-C); " +
				"existing objects stay readable, which is all --read-only needs")
			return
		}
		r.fail("encryption configuration: the bucket blocks SSE-C writes (BlockedEncryptionTypes includes SSE-C), "+
			"so every write would be refused with 403; lift the block with: %s", liftBlockCommand(c.Bucket.Bucket))
	default:
		if err != nil {
			r.unknown("encryption configuration: could not read it (%v); if writes fail with 403, the bucket may block SSE-C writes", err)
			return
		}
		r.unknown("encryption configuration: the server does not report one (GetBucketEncryption is not implemented); " +
			"the probe write below shows whether writes work")
	}
}
