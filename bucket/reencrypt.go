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
// encryption changes. Objects above 5 GiB are copied part by part, in a multipart
// upload begun as StartUpload begins one. It answers the new ETag; a source that
// changed since etag gives ErrChanged.
func (b *Bucket) Reencrypt(ctx context.Context, object, etag string, size int64) (string, error) {
	var newETag string
	var large *s3.HeadObjectOutput
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
		if size > maxCopyObject {
			large = head // copied below, outside this request's timeout
			return nil
		}
		meta := head.Metadata
		if meta == nil {
			meta = map[string]string{}
		}
		in := b.copyInput(object, etag, object, s)
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.Metadata = meta
		headersOf(head).setCopy(in)
		newETag, err = b.copyObject(ctx, in)
		return err
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
	up, err := b.startUpload(ctx, object, head.Metadata, headersOf(head))
	if err != nil {
		return "", err
	}
	return up.copyAllAndComplete(ctx, object, etag, size, Condition{IfMatch: etag})
}

// contentHeaders are the headers of an object's content that S3 keeps beside its user
// metadata. A copy that replaces the metadata, or a new upload of the same content,
// sends them again to keep them.
type contentHeaders struct {
	contentType, cacheControl, contentDisposition, contentEncoding, contentLanguage *string
}

func headersOf(head *s3.HeadObjectOutput) contentHeaders {
	return contentHeaders{head.ContentType, head.CacheControl, head.ContentDisposition, head.ContentEncoding, head.ContentLanguage}
}

func (c contentHeaders) setCopy(in *s3.CopyObjectInput) {
	in.ContentType, in.CacheControl, in.ContentDisposition, in.ContentEncoding, in.ContentLanguage =
		c.contentType, c.cacheControl, c.contentDisposition, c.contentEncoding, c.contentLanguage
}

func (c contentHeaders) setUpload(in *s3.CreateMultipartUploadInput) {
	in.ContentType, in.CacheControl, in.ContentDisposition, in.ContentEncoding, in.ContentLanguage =
		c.contentType, c.cacheControl, c.contentDisposition, c.contentEncoding, c.contentLanguage
}
