package bucket

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// SSECWriteState says whether a bucket's encryption configuration lets SSE-C writes in.
type SSECWriteState int

const (
	// SSECUnknown: the server did not say (it does not implement the call, or it failed).
	SSECUnknown SSECWriteState = iota
	// SSECAllowed: no rule blocks SSE-C writes (or the bucket has no configuration).
	SSECAllowed
	// SSECBlocked: a rule's BlockedEncryptionTypes includes SSE-C.
	SSECBlocked
)

func (s SSECWriteState) String() string {
	switch s {
	case SSECAllowed:
		return "allowed"
	case SSECBlocked:
		return "blocked"
	}
	return "unknown"
}

// SSECWrites reads the bucket's encryption configuration and says whether it blocks
// SSE-C writes. A bucket without a configuration allows them. When the answer is
// SSECUnknown, the error (if any) says why, in one line.
func (b *Bucket) SSECWrites(ctx context.Context) (SSECWriteState, error) {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	out, err := b.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(b.name)},
		func(o *s3.Options) { o.RetryMaxAttempts = checkAttempts })
	if err != nil {
		code := errorCode(err)
		switch {
		case code == "ServerSideEncryptionConfigurationNotFoundError" || strings.Contains(code, "NotFound") ||
			(statusCode(err) == 404 && code != "NoSuchBucket"):
			return SSECAllowed, nil
		case isNotImplemented(err):
			return SSECUnknown, nil
		}
		return SSECUnknown, &Error{Op: "GetBucketEncryption", Object: b.name, Kind: kindOf(err), Err: err}
	}
	if blocksSSECWrites(out.ServerSideEncryptionConfiguration) {
		return SSECBlocked, nil
	}
	return SSECAllowed, nil
}

// blocksSSEC reads the bucket's encryption configuration for Check, which only warns:
// any failure (servers without the API just say no) counts as no block.
func (b *Bucket) blocksSSEC(ctx context.Context) bool {
	out, err := b.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(b.name)})
	return err == nil && blocksSSECWrites(out.ServerSideEncryptionConfiguration)
}

// blocksSSECWrites reports whether a rule of c blocks SSE-C writes: its
// BlockedEncryptionTypes includes SSE-C. Since April 2026 new AWS buckets have such a
// rule by default. No configuration blocks nothing.
func blocksSSECWrites(c *types.ServerSideEncryptionConfiguration) bool {
	if c == nil {
		return false
	}
	for _, r := range c.Rules {
		if r.BlockedEncryptionTypes != nil && slices.Contains(r.BlockedEncryptionTypes.EncryptionType, types.EncryptionTypeSseC) {
			return true
		}
	}
	return false
}
