package bucket

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Upload is a keyed multipart upload in progress. Nothing of it is visible until
// Complete succeeds, so an upload that fails or is abandoned leaves the previous object
// intact; Abort frees its parts. Parts may be sent concurrently.
type Upload struct {
	b        *Bucket
	key, id  string
	saveID   string // in the object's metadata once complete (see saveid.go)
	mu       sync.Mutex
	parts    map[int32]string // part number -> ETag
	finished bool
}

// StartUpload begins a multipart upload of key under the current key, with user metadata.
func (b *Bucket) StartUpload(ctx context.Context, key string, meta map[string]string) (*Upload, error) {
	return b.startUpload(ctx, key, meta, contentHeaders{})
}

// startUpload is StartUpload with content headers (Content-Type and the like) for the
// object. Every multipart upload begins here: with a save identifier in its metadata,
// in the journal, and with the uploads of attempts whose answers were lost aborted.
func (b *Bucket) startUpload(ctx context.Context, key string, meta map[string]string, headers contentHeaders) (*Upload, error) {
	meta, saveID := withSaveID(meta)
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	h := b.current()
	in := &s3.CreateMultipartUploadInput{
		Bucket:               aws.String(b.name),
		Key:                  aws.String(key),
		Metadata:             meta,
		SSECustomerAlgorithm: h.Algorithm,
		SSECustomerKey:       h.Key,
		SSECustomerKeyMD5:    h.KeyMD5,
	}
	headers.setUpload(in)
	sent := time.Now()
	out, err := b.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		if mayHaveLanded(err) {
			go b.abortLostUploads(key, "", sent)
		}
		return nil, b.writeError(opCreateMP, key, err)
	}
	if r, ok := retry.GetAttemptResults(out.ResultMetadata); ok && len(r.Results) > 1 {
		go b.abortLostUploads(key, aws.ToString(out.UploadId), sent)
	}
	u := &Upload{b: b, key: key, id: aws.ToString(out.UploadId), saveID: saveID, parts: make(map[int32]string)}
	if b.uploads != nil {
		b.uploads.Started(u.id)
	}
	return u, nil
}

// lostUploadSkew is how far the server's clock may be from ours for abortLostUploads
// to recognise an upload as one of its own: beyond it, nothing is aborted.
const lostUploadSkew = 2 * time.Second

// abortLostUploads aborts the uploads of key that CreateMultipartUpload attempts sent
// since sent made but whose answers were lost (the SDK retried, or gave up): the server
// began them, we never learned their IDs. They are the uploads of key other than keep
// begun, by the server's clock, between sent and now (within lostUploadSkew). Bounded;
// in the background.
func (b *Bucket) abortLostUploads(key, keep string, sent time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	until := time.Now().Add(lostUploadSkew)
	from := sent.Add(-lostUploadSkew)
	var keyMarker, idMarker *string
	for page := 0; page < maxListPages; page++ {
		out, err := b.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{
			Bucket: aws.String(b.name), Prefix: aws.String(key), KeyMarker: keyMarker, UploadIdMarker: idMarker,
		})
		if err != nil {
			b.log.Warn("could not look for uploads begun by attempts whose answers were lost", "object", key, "err", describe(err))
			return
		}
		for _, up := range out.Uploads {
			id, at := aws.ToString(up.UploadId), aws.ToTime(up.Initiated)
			if aws.ToString(up.Key) != key || id == keep || at.Before(from) || at.After(until) {
				continue
			}
			u := &Upload{b: b, key: key, id: id}
			if err := u.abort(); err != nil {
				b.log.Warn("could not abort an upload begun by an attempt whose answer was lost", "object", key, "err", err)
				continue
			}
			b.log.Info("aborted an upload begun by an attempt whose answer was lost", "object", key)
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextKeyMarker) == "" {
			return
		}
		keyMarker, idMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

func (u *Upload) setPart(n int32, etag string) {
	u.mu.Lock()
	u.parts[n] = etag
	u.mu.Unlock()
}

// putPart uploads part n (1-based) with the current key.
func (u *Upload) putPart(ctx context.Context, n int32, body []byte) error {
	return u.PutPartPages(ctx, n, [][]byte{body})
}

// PutPartPages uploads part n made of pages, in order, without joining them first.
func (u *Upload) PutPartPages(ctx context.Context, n int32, pages [][]byte) error {
	body := newSlicesReader(pages)
	return u.PutPartFrom(ctx, n, body, body.size)
}

// PutPartFrom uploads part n of size bytes read from body, which is read as it is sent
// (and rewound for a retry), so a large part never has to be in memory at once.
func (u *Upload) PutPartFrom(ctx context.Context, n int32, body io.ReadSeeker, size int64) error {
	ctx, cancel := u.b.withTimeout(ctx)
	defer cancel()
	h := u.b.current()
	out, err := u.b.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:               aws.String(u.b.name),
		Key:                  aws.String(u.key),
		UploadId:             aws.String(u.id),
		PartNumber:           aws.Int32(n),
		Body:                 body,
		ContentLength:        aws.Int64(size),
		SSECustomerAlgorithm: h.Algorithm,
		SSECustomerKey:       h.Key,
		SSECustomerKeyMD5:    h.KeyMD5,
	})
	if err != nil {
		return u.b.writeError(opPart, u.key, err)
	}
	u.setPart(n, aws.ToString(out.ETag))
	return nil
}

// CopyPart makes part n from bytes [off, off+length) of version srcETag of src, copied
// server-side with keyed UploadPartCopy: the source's key in the copy-source headers,
// the current key for the new part. Servers that do not implement it for SSE-C sources
// (501) get a keyed ranged GET and UploadPart instead.
func (u *Upload) CopyPart(ctx context.Context, n int32, src, srcETag string, off, length int64) error {
	if !u.b.partCopyUnsupported.Load() {
		err := u.copyPart(ctx, n, src, srcETag, off, length)
		if !isNotImplemented(err) {
			return err
		}
		if !u.b.partCopyUnsupported.Swap(true) {
			u.b.log.Info("the server does not copy SSE-C parts (UploadPartCopy: 501); copying through ssecfs instead",
				"object", src)
		}
	}
	data, err := u.b.ReadRange(ctx, src, srcETag, off, length)
	if err != nil {
		return err
	}
	if int64(len(data)) != length {
		return &Error{Op: opPartCopy, Object: src, Kind: ErrChanged, Err: fmt.Errorf("source is shorter than expected")}
	}
	return u.putPart(ctx, n, data)
}

func (u *Upload) copyPart(ctx context.Context, n int32, src, srcETag string, off, length int64) error {
	dst := u.b.current()
	return u.b.withKey(ctx, opPartCopy, src, func(ctx context.Context, h sseC) error {
		out, err := u.b.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket:                         aws.String(u.b.name),
			Key:                            aws.String(u.key),
			UploadId:                       aws.String(u.id),
			PartNumber:                     aws.Int32(n),
			CopySource:                     aws.String(copySource(u.b.name, src)),
			CopySourceRange:                aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1)),
			CopySourceIfMatch:              ifMatch(srcETag),
			CopySourceSSECustomerAlgorithm: h.Algorithm,
			CopySourceSSECustomerKey:       h.Key,
			CopySourceSSECustomerKeyMD5:    h.KeyMD5,
			SSECustomerAlgorithm:           dst.Algorithm,
			SSECustomerKey:                 dst.Key,
			SSECustomerKeyMD5:              dst.KeyMD5,
		})
		if err != nil {
			return err
		}
		if out.CopyPartResult != nil {
			u.setPart(n, aws.ToString(out.CopyPartResult.ETag))
		}
		return nil
	})
}

// Complete makes the upload's object visible, atomically, if cond holds.
func (u *Upload) Complete(ctx context.Context, cond Condition) (string, error) {
	tctx, cancel := u.b.withTimeout(ctx)
	defer cancel()
	u.mu.Lock()
	nums := make([]int32, 0, len(u.parts))
	for n := range u.parts {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	parts := make([]types.CompletedPart, len(nums))
	for i, n := range nums {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(u.parts[n])}
	}
	u.mu.Unlock()
	h := u.b.current()
	out, err := u.b.client.CompleteMultipartUpload(tctx, &s3.CompleteMultipartUploadInput{
		Bucket:               aws.String(u.b.name),
		Key:                  aws.String(u.key),
		UploadId:             aws.String(u.id),
		MultipartUpload:      &types.CompletedMultipartUpload{Parts: parts},
		IfMatch:              cond.ifMatch(),
		IfNoneMatch:          cond.ifNoneMatch(),
		SSECustomerAlgorithm: h.Algorithm,
		SSECustomerKey:       h.Key,
		SSECustomerKeyMD5:    h.KeyMD5,
	})
	var etag string
	if err == nil {
		etag = aws.ToString(out.ETag)
	} else {
		var ok bool
		if etag, ok = u.b.confirmSave(ctx, opComplete, u.key, u.saveID, err); !ok {
			return "", u.b.writeError(opComplete, u.key, err)
		}
	}
	u.mu.Lock()
	u.finished = true
	u.mu.Unlock()
	u.ended()
	u.b.remember(u.key, 0)
	return etag, nil
}

// Abort frees the parts of an upload that will not be completed. It runs on a context of
// its own: it is cleanup after a failure, and often the caller's context is what failed.
func (u *Upload) Abort() error {
	u.mu.Lock()
	done := u.finished
	u.finished = true
	u.mu.Unlock()
	if done {
		return nil
	}
	err := u.abort()
	if err != nil {
		// Often the abort fails for the reason the upload did (the server is down).
		// Keep trying for a while, so no parts are left behind once it is back.
		u.b.log.Warn("could not abort an unfinished upload; retrying in the background", "object", u.key, "err", err)
		go u.abortLater()
	}
	return err
}

func (u *Upload) abort() error {
	ctx, cancel := u.b.withTimeout(context.Background())
	defer cancel()
	_, err := u.b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.b.name), Key: aws.String(u.key), UploadId: aws.String(u.id),
	})
	if err != nil && statusCode(err) != 404 { // NoSuchUpload: already gone
		return &Error{Op: opAbort, Object: u.key, Kind: kindOf(err), Err: err}
	}
	u.ended()
	return nil
}

// ended tells the journal that the upload is complete or aborted.
func (u *Upload) ended() {
	if u.b.uploads != nil {
		u.b.uploads.Ended(u.id)
	}
}

// abortRetries and abortInterval bound the background retries of a failed abort.
const (
	abortRetries  = 60
	abortInterval = 5 * time.Second
)

func (u *Upload) abortLater() {
	for range abortRetries {
		time.Sleep(abortInterval)
		if err := u.abort(); err == nil {
			u.b.log.Info("aborted an unfinished upload", "object", u.key)
			return
		}
	}
	u.b.log.Error("gave up aborting an unfinished upload; its parts stay until a lifecycle rule removes them",
		"object", u.key, "upload_id", u.id)
}

// copySource is the x-amz-copy-source value: bucket and key, URL-escaped but for "/".
func copySource(bucket, key string) string {
	return url.PathEscape(bucket) + "/" + strings.ReplaceAll(url.PathEscape(key), "%2F", "/")
}

func ifMatch(etag string) *string {
	if etag == "" {
		return nil
	}
	return aws.String(etag)
}

func isNotImplemented(err error) bool {
	return err != nil && (statusCode(err) == 501 || errorCode(err) == "NotImplemented")
}
