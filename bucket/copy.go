package bucket

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	// maxCopyObject is the largest object one CopyObject may copy.
	maxCopyObject = 5 << 30
	// copyPartSize is the part size of larger copies (S3 allows up to 5 GiB a part).
	copyPartSize = 1 << 30
)

// Copy copies version srcETag of src (size bytes) to dst server-side, re-encrypting it
// under the current key: the source's key goes in the copy-source headers. meta replaces
// the metadata; nil keeps the source's. Objects above 5 GiB are copied part by part.
func (b *Bucket) Copy(ctx context.Context, src, srcETag string, size int64, dst string, meta map[string]string, cond Condition) (string, error) {
	if size > maxCopyObject {
		return b.copyMultipart(ctx, src, srcETag, size, dst, meta, cond)
	}
	var etag, id string
	if meta != nil {
		meta, id = withSaveID(meta)
	}
	err := b.withKey(ctx, opCopy, src, func(ctx context.Context, s sseC) error {
		in := b.copyInput(src, srcETag, dst, s)
		in.IfMatch = cond.ifMatch()
		in.IfNoneMatch = cond.ifNoneMatch()
		if meta != nil {
			in.MetadataDirective = types.MetadataDirectiveReplace
			in.Metadata = meta
		}
		var err error
		etag, err = b.copyObject(ctx, in)
		return err
	})
	if err != nil {
		var ok bool
		if etag, ok = b.confirmSave(ctx, opCopy, dst, id, err); !ok {
			return "", err
		}
	}
	b.remember(dst, 0)
	return etag, nil
}

// copyInput is a keyed CopyObject of version srcETag of src to dst: s, the key that
// opens the source, goes in the copy-source headers, and the copy is encrypted under
// the current key. The caller adds the metadata and the conditions on dst.
func (b *Bucket) copyInput(src, srcETag, dst string, s sseC) *s3.CopyObjectInput {
	h := b.current()
	return &s3.CopyObjectInput{
		Bucket:                         aws.String(b.name),
		Key:                            aws.String(dst),
		CopySource:                     aws.String(copySource(b.name, src)),
		CopySourceIfMatch:              ifMatch(srcETag),
		CopySourceSSECustomerAlgorithm: s.Algorithm,
		CopySourceSSECustomerKey:       s.Key,
		CopySourceSSECustomerKeyMD5:    s.KeyMD5,
		SSECustomerAlgorithm:           h.Algorithm,
		SSECustomerKey:                 h.Key,
		SSECustomerKeyMD5:              h.KeyMD5,
	}
}

// copyObject sends in and answers the copy's ETag.
func (b *Bucket) copyObject(ctx context.Context, in *s3.CopyObjectInput) (string, error) {
	out, err := b.client.CopyObject(ctx, in)
	if err != nil {
		return "", err
	}
	if out.CopyObjectResult == nil {
		return "", nil
	}
	return aws.ToString(out.CopyObjectResult.ETag), nil
}

func (b *Bucket) copyMultipart(ctx context.Context, src, srcETag string, size int64, dst string, meta map[string]string, cond Condition) (string, error) {
	if meta == nil {
		info, err := b.Head(ctx, src)
		if err != nil {
			return "", err
		}
		meta = info.Metadata
	}
	up, err := b.StartUpload(ctx, dst, meta)
	if err != nil {
		return "", err
	}
	return up.copyAllAndComplete(ctx, src, srcETag, size, cond)
}

// copyAllAndComplete fills the upload with all size bytes of version srcETag of src,
// part by part, and completes it under cond; on any failure the upload is aborted.
func (u *Upload) copyAllAndComplete(ctx context.Context, src, srcETag string, size int64, cond Condition) (string, error) {
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+copyPartSize {
		if err := u.CopyPart(ctx, n, src, srcETag, off, min(copyPartSize, size-off)); err != nil {
			u.Abort()
			return "", err
		}
	}
	etag, err := u.Complete(ctx, cond)
	if err != nil {
		u.Abort()
	}
	return etag, err
}
