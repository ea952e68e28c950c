package bucket

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// checkAttempts bounds the tries of the first request.
const checkAttempts = 3

// Check makes sure the mount can work before it is made: the endpoint answers over TLS
// with a trusted certificate, the credentials are accepted, the bucket exists and can be
// listed. Its errors are one line a user can act on. It also warns, without failing, when
// no key of the keyring opens a sample object, or when the bucket blocks SSE-C writes.
func (b *Bucket) Check(ctx context.Context, prefix string) error {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	out, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(b.name),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(2),
	}, func(o *s3.Options) {
		// A user waiting for mount wants the reason soon, not after every retry.
		o.RetryMaxAttempts = checkAttempts
	})
	if err != nil {
		return b.explain(err)
	}
	for _, o := range out.Contents {
		key := aws.ToString(o.Key)
		if strings.HasSuffix(key, "/") {
			continue // directory markers are zero-length; they tell nothing about the key
		}
		if _, err := b.Head(ctx, key); errors.Is(err, ErrAccessDenied) {
			b.log.Warn("no key of the keyring opens a sample object: is this the right key file?",
				"object", key, "keys", b.fingerprints())
		}
		break
	}
	if b.blocksSSEC(ctx) {
		b.log.Warn("the bucket blocks SSE-C writes (BlockedEncryptionTypes includes SSE-C): existing objects " +
			"stay readable, but new ones will be refused with 403; lift it with PutBucketEncryption and " +
			"BlockedEncryptionTypes NONE")
	}
	return nil
}

func (b *Bucket) fingerprints() []string {
	fps := make([]string, len(b.keys))
	for i, k := range b.keys {
		fps[i] = k.Fingerprint()
	}
	return fps
}

// explain turns a failed first request into a sentence that says what to do.
func (b *Bucket) explain(err error) error {
	where := b.Where()
	var unknownCA x509.UnknownAuthorityError
	var certErr *x509.CertificateInvalidError
	var hostErr x509.HostnameError
	var netErr net.Error
	switch code := errorCode(err); {
	case errors.As(err, &unknownCA), errors.As(err, &certErr), errors.As(err, &hostErr):
		return fmt.Errorf("the TLS certificate of %s is not trusted (%v); if it is signed by your own CA, pass --ca-bundle FILE", where, tlsReason(err))
	case strings.Contains(err.Error(), "get identity"):
		// The SDK found no credentials anywhere in its chain; no request was sent.
		return fmt.Errorf("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile")
	case errors.Is(err, errPlainHTTP):
		return fmt.Errorf("%s: %w", where, errPlainHTTP)
	case code == "NoSuchBucket" || statusCode(err) == 404:
		return fmt.Errorf("bucket %q does not exist at %s: check the name (and --region)", b.name, where)
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken" || code == "ExpiredToken":
		return fmt.Errorf("%s rejected the credentials (%s): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or --profile", where, code)
	case statusCode(err) == 403:
		return fmt.Errorf("%s denied listing bucket %q (%s): the credentials need s3:ListBucket on it", where, b.name, describe(err))
	case errors.As(err, &netErr) || statusCode(err) == 0:
		return fmt.Errorf("cannot reach %s: %s", where, describe(err))
	}
	return fmt.Errorf("listing bucket %q at %s failed: %s", b.name, where, describe(err))
}

func tlsReason(err error) string {
	var unknownCA x509.UnknownAuthorityError
	if errors.As(err, &unknownCA) {
		return "signed by an unknown authority"
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return hostErr.Error()
	}
	return "invalid certificate"
}
