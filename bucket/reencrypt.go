package bucket

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Reencrypt copies version etag of object (size bytes) onto itself, server-side, under
// the current key: whichever key of the keyring opens it goes in the copy-source
// headers. The user metadata and the content headers (Content-Type, Cache-Control,
// Content-Disposition, Content-Encoding, Content-Language) are kept: they are read with
// a keyed HEAD and sent again with the REPLACE directive, because some servers
// (SeaweedFS) refuse a copy onto itself with the COPY directive even though the
// encryption changes. Objects above 5 GiB are copied part by part. It answers the new
// ETag; a source that changed since etag gives ErrChanged.
func (b *Bucket) Reencrypt(ctx context.Context, object, etag string, size int64) (string, error) {
	var newETag string
	var large *s3.HeadObjectOutput
	h := b.current()
	err := b.withKey(ctx, opCopy, object, func(ctx context.Context, s sseC) error {
		head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket:               aws.String(b.name),
			Key:                  aws.String(object),
			IfMatch:              ifMatch(etag),
			SSECustomerAlgorithm: s.Algorithm,
			SSECustomerKey:       s.Key,
			SSECustomerKeyMD5:    s.KeyMD5,
		})
		if err != nil {
			return err
		}
		meta := head.Metadata
		if meta == nil {
			meta = map[string]string{}
		}
		if size > maxCopyObject {
			large = head // copied below, outside this request's timeout
			return nil
		}
		out, err := b.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket:                         aws.String(b.name),
			Key:                            aws.String(object),
			CopySource:                     aws.String(copySource(b.name, object)),
			CopySourceIfMatch:              ifMatch(etag),
			CopySourceSSECustomerAlgorithm: s.Algorithm,
			CopySourceSSECustomerKey:       s.Key,
			CopySourceSSECustomerKeyMD5:    s.KeyMD5,
			SSECustomerAlgorithm:           h.Algorithm,
			SSECustomerKey:                 h.Key,
			SSECustomerKeyMD5:              h.KeyMD5,
			MetadataDirective:              types.MetadataDirectiveReplace,
			Metadata:                       meta,
			ContentType:                    head.ContentType,
			CacheControl:                   head.CacheControl,
			ContentDisposition:             head.ContentDisposition,
			ContentEncoding:                head.ContentEncoding,
			ContentLanguage:                head.ContentLanguage,
		})
		if err != nil {
			return err
		}
		if out.CopyObjectResult != nil {
			newETag = aws.ToString(out.CopyObjectResult.ETag)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if large != nil {
		return b.reencryptMultipart(ctx, object, etag, size, large)
	}
	b.remember(object, 0)
	return newETag, nil
}

// reencryptMultipart is Reencrypt for objects too large for one CopyObject.
func (b *Bucket) reencryptMultipart(ctx context.Context, object, etag string, size int64, head *s3.HeadObjectOutput) (string, error) {
	h := b.current()
	out, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               aws.String(b.name),
		Key:                  aws.String(object),
		Metadata:             head.Metadata,
		ContentType:          head.ContentType,
		CacheControl:         head.CacheControl,
		ContentDisposition:   head.ContentDisposition,
		ContentEncoding:      head.ContentEncoding,
		ContentLanguage:      head.ContentLanguage,
		SSECustomerAlgorithm: h.Algorithm,
		SSECustomerKey:       h.Key,
		SSECustomerKeyMD5:    h.KeyMD5,
	})
	if err != nil {
		return "", b.writeError(opCreateMP, object, err)
	}
	up := &Upload{b: b, key: object, id: aws.ToString(out.UploadId), parts: make(map[int32]string)}
	return up.copyAllAndComplete(ctx, object, etag, size, Condition{IfMatch: etag})
}
