package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ReadRange reads length bytes of object from off with a keyed ranged GET pinned to etag
// (If-Match), so a reader never gets a mix of two versions: if the object changed, the
// answer is ErrChanged. The result is shorter than length only at the end of the object.
//
// A connection that breaks mid-body is retried (bounded), since the SDK retries only
// until the response headers arrive.
func (b *Bucket) ReadRange(ctx context.Context, object, etag string, off, length int64) ([]byte, error) {
	if length <= 0 {
		return nil, nil
	}
	buf := make([]byte, length)
	var n int
	for attempt := 1; ; attempt++ {
		var bodyErr error
		err := b.withKey(ctx, opGet, object, func(ctx context.Context, h sseC) error {
			in := &s3.GetObjectInput{
				Bucket:               aws.String(b.name),
				Key:                  aws.String(object),
				Range:                aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1)),
				SSECustomerAlgorithm: h.Algorithm,
				SSECustomerKey:       h.Key,
				SSECustomerKeyMD5:    h.KeyMD5,
			}
			if etag != "" {
				in.IfMatch = aws.String(etag)
			}
			out, err := b.client.GetObject(ctx, in)
			if err != nil {
				return err
			}
			defer out.Body.Close()
			n, bodyErr = io.ReadFull(out.Body, buf)
			// A short body is the answer only when the server said it would be short
			// (the object ends inside the range); otherwise the connection broke.
			if (errors.Is(bodyErr, io.ErrUnexpectedEOF) || errors.Is(bodyErr, io.EOF)) &&
				out.ContentLength != nil && int64(n) == *out.ContentLength {
				bodyErr = nil
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if bodyErr == nil {
			return buf[:n], nil
		}
		if attempt >= b.attempts || ctx.Err() != nil {
			return nil, &Error{Op: opGet, Object: object, Err: fmt.Errorf("reading body: %w", bodyErr)}
		}
		b.log.Debug("retrying a GET whose body broke off", "object", object, "attempt", attempt, "err", bodyErr)
	}
}
