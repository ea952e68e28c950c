package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ReadRange reads length bytes of object from off with a keyed ranged GET pinned to etag
// (If-Match), so a reader never gets a mix of two versions: if the object changed, the
// answer is ErrChanged. The result is shorter than length only at the end of the object.
//
// The SDK retries a request only until its response headers arrive. A body that breaks
// off later is resumed here from the last byte received, with a ranged GET pinned to the
// same version (the version of the first answer when etag is ""). As long as each try
// brings new bytes it goes on, within the request timeout; tries that bring nothing back
// off from 200 ms to 5 s and give up after MaxAttempts of them in a row (about fifteen
// seconds with the defaults), like every other request.
func (b *Bucket) ReadRange(ctx context.Context, object, etag string, off, length int64) ([]byte, error) {
	if length <= 0 {
		return nil, nil
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	buf := make([]byte, length)
	got := 0
	for idle := 0; ; {
		n, version, bodyErr, err := b.readBody(ctx, object, etag, off+int64(got), buf[got:])
		if err != nil {
			return nil, err
		}
		got += n
		if etag == "" {
			etag = version // the rest must come from the same version
		}
		if bodyErr == nil {
			return buf[:got], nil
		}
		if n > 0 {
			idle = 0
		}
		idle++
		if idle >= b.attempts || ctx.Err() != nil {
			return nil, &Error{Op: opGet, Object: object, Err: fmt.Errorf("reading body: %w (%d of %d bytes received)", bodyErr, got, length)}
		}
		b.log.Debug("resuming a GET whose body broke off", "object", object, "received", got, "of", length, "err", bodyErr)
		if err := sleepCtx(ctx, backoffDelay(idle)); err != nil {
			return nil, &Error{Op: opGet, Object: object, Err: fmt.Errorf("reading body: %w", bodyErr)}
		}
	}
}

// readBody sends one keyed ranged GET for dst's bytes from off and reads its body into
// dst. It reports how many bytes arrived, the version that answered, and the error that
// broke the body off (err is the request's failure). A body shorter than dst without a
// break is the object's end.
func (b *Bucket) readBody(ctx context.Context, object, etag string, off int64, dst []byte) (n int, version string, bodyErr, err error) {
	err = b.withKey(ctx, opGet, object, func(ctx context.Context, h sseC) error {
		in := &s3.GetObjectInput{
			Bucket:               aws.String(b.name),
			Key:                  aws.String(object),
			Range:                aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(dst))-1)),
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
		version = aws.ToString(out.ETag)
		n, bodyErr = io.ReadFull(out.Body, dst)
		// A short body is the answer only when the server said it would be short (the
		// object ends inside the range); otherwise the connection broke.
		if (errors.Is(bodyErr, io.ErrUnexpectedEOF) || errors.Is(bodyErr, io.EOF)) &&
			out.ContentLength != nil && int64(n) == *out.ContentLength {
			bodyErr = nil
		}
		return nil
	})
	return n, version, bodyErr, err
}

func backoffDelay(attempt int) time.Duration {
	d, _ := backoff{}.BackoffDelay(attempt, nil)
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
