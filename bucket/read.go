package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ReadRange reads length bytes of object from off with a keyed ranged GET pinned to etag
// (If-Match), so a reader never gets a mix of two versions: if the object changed, the
// answer is ErrChanged. The result is shorter than length only at the end of the object.
// It is ReadInto with one buffer, made here.
func (b *Bucket) ReadRange(ctx context.Context, object, etag string, off, length int64) ([]byte, error) {
	if length <= 0 {
		return nil, nil
	}
	buf := make([]byte, length)
	n, _, err := b.ReadInto(ctx, object, etag, off, [][]byte{buf})
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// ReadInto reads object's bytes from off into the buffers of dst, one after the other,
// with one keyed ranged GET pinned to etag (If-Match) for all of them, and returns how
// many bytes it wrote (fewer than dst holds only at the end of the object) and what the
// first answer's headers say of the object: its size, version, time and user metadata,
// all a HEAD would have told (Encrypted false if the answer did not say). The body is
// read straight into dst (the page cache hands its pages), never through a buffer of
// its own. If the object changed, it fails with ErrChanged. On error, the bytes written
// into dst are of no use and the caller zeroes them.
//
// The SDK retries a request only until its response headers arrive. A body that breaks
// off later is resumed here from the last byte received, with a ranged GET pinned to the
// same version (the version of the first answer when etag is ""). As long as each try
// brings new bytes it goes on, within the request timeout; tries that bring nothing back
// off from 200 ms to 5 s and give up after MaxAttempts of them in a row (about fifteen
// seconds with the defaults), like every other request.
func (b *Bucket) ReadInto(ctx context.Context, object, etag string, off int64, dst [][]byte) (int64, ObjectInfo, error) {
	var length int64
	for _, d := range dst {
		length += int64(len(d))
	}
	if length == 0 {
		return 0, ObjectInfo{}, nil
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	var (
		got  int64
		info ObjectInfo
	)
	for idle := 0; ; {
		n, answer, bodyErr, err := b.readBody(ctx, object, etag, off+got, length-got, skipBytes(dst, got))
		if err != nil {
			return 0, ObjectInfo{}, err
		}
		if info.ETag == "" {
			info = answer
		}
		got += n
		if etag == "" {
			etag = answer.ETag // the rest must come from the same version
		}
		if bodyErr == nil {
			return got, info, nil
		}
		if n > 0 {
			idle = 0
		}
		idle++
		if idle >= b.attempts || ctx.Err() != nil {
			return 0, ObjectInfo{}, &Error{Op: opGet, Object: object, Err: fmt.Errorf("reading body: %w (%d of %d bytes received)", bodyErr, got, length)}
		}
		b.log.Debug("resuming a GET whose body broke off", "object", object, "received", got, "of", length, "err", bodyErr)
		if err := sleepCtx(ctx, backoffDelay(idle)); err != nil {
			return 0, ObjectInfo{}, &Error{Op: opGet, Object: object, Err: fmt.Errorf("reading body: %w", bodyErr)}
		}
	}
}

// skipBytes is dst without its first n bytes (a new slice of slices; the buffers are
// dst's).
func skipBytes(dst [][]byte, n int64) [][]byte {
	for len(dst) > 0 && n >= int64(len(dst[0])) {
		n -= int64(len(dst[0]))
		dst = dst[1:]
	}
	if len(dst) == 0 || n == 0 {
		return dst
	}
	return append([][]byte{dst[0][n:]}, dst[1:]...)
}

// readBody sends one keyed ranged GET for length bytes from off and reads its body into
// the buffers of dst, which hold length bytes. It reports how many bytes arrived, what
// the answer's headers say of the object, and the error that broke the body off (err is
// the request's failure). A body shorter than asked without a break is the object's end.
func (b *Bucket) readBody(ctx context.Context, object, etag string, off, length int64, dst [][]byte) (n int64, info ObjectInfo, bodyErr, err error) {
	err = b.withKey(ctx, opGet, object, func(ctx context.Context, h sseC) error {
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
		info = getInfo(object, out)
		n, bodyErr = readFullInto(out.Body, dst)
		// A short body is the answer only when the server said it would be short (the
		// object ends inside the range); otherwise the connection broke.
		if (errors.Is(bodyErr, io.ErrUnexpectedEOF) || errors.Is(bodyErr, io.EOF)) &&
			out.ContentLength != nil && n == *out.ContentLength {
			bodyErr = nil
		}
		return nil
	})
	return n, info, bodyErr, err
}

// getInfo is what a GET's answer says of the object, as a HEAD's would: the size is
// the total of its Content-Range (-1 if it has none and the answer is partial).
func getInfo(object string, out *s3.GetObjectOutput) ObjectInfo {
	size := int64(-1)
	if r := aws.ToString(out.ContentRange); r != "" {
		if i := strings.LastIndexByte(r, '/'); i >= 0 {
			if total, err := strconv.ParseInt(r[i+1:], 10, 64); err == nil {
				size = total
			}
		}
	} else if out.ContentLength != nil {
		size = *out.ContentLength
	}
	meta := make(map[string]string, len(out.Metadata))
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return ObjectInfo{
		Key:          object,
		Size:         size,
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		Metadata:     meta,
		Encrypted:    out.SSECustomerAlgorithm != nil,
	}
}

// readFullInto fills the buffers of dst from r in order, as io.ReadFull does one: the
// error is io.EOF if nothing was read before the end, io.ErrUnexpectedEOF if some was.
func readFullInto(r io.Reader, dst [][]byte) (int64, error) {
	var n int64
	for _, d := range dst {
		m, err := io.ReadFull(r, d)
		n += int64(m)
		if err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
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
