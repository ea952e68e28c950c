package bucket

import (
	"bytes"
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	opPut      = "PutObject"
	opDelete   = "DeleteObject"
	opCopy     = "CopyObject"
	opCreateMP = "CreateMultipartUpload"
	opPart     = "UploadPart"
	opPartCopy = "UploadPartCopy"
	opComplete = "CompleteMultipartUpload"
	opAbort    = "AbortMultipartUpload"
)

// Condition makes a write conditional, so that two writers on different machines do not
// silently overwrite each other: a write that loses answers ErrChanged.
type Condition struct {
	// IfMatch replaces only the version with this ETag.
	IfMatch string
	// IfNoneMatch creates only: the write fails if the key exists.
	IfNoneMatch bool
}

func (c Condition) ifMatch() *string {
	if c.IfMatch == "" {
		return nil
	}
	return aws.String(c.IfMatch)
}

func (c Condition) ifNoneMatch() *string {
	if !c.IfNoneMatch {
		return nil
	}
	return aws.String("*")
}

// current is the key every write uses.
func (b *Bucket) current() sseC {
	k := b.keys[0]
	return headersFor(&k)
}

// Put writes a whole object in one keyed request and returns its ETag. The object is
// encrypted with the current key; meta is its user metadata.
func (b *Bucket) Put(ctx context.Context, key string, body []byte, meta map[string]string, cond Condition) (string, error) {
	meta, id := withSaveID(meta)
	tctx, cancel := b.withTimeout(ctx)
	defer cancel()
	h := b.current()
	out, err := b.client.PutObject(tctx, &s3.PutObjectInput{
		Bucket:               aws.String(b.name),
		Key:                  aws.String(key),
		Body:                 bytes.NewReader(body),
		ContentLength:        aws.Int64(int64(len(body))),
		Metadata:             meta,
		IfMatch:              cond.ifMatch(),
		IfNoneMatch:          cond.ifNoneMatch(),
		SSECustomerAlgorithm: h.Algorithm,
		SSECustomerKey:       h.Key,
		SSECustomerKeyMD5:    h.KeyMD5,
	})
	if err != nil {
		if etag, ok := b.confirmSave(ctx, opPut, key, id, err); ok {
			return etag, nil
		}
		return "", b.writeError(opPut, key, err)
	}
	b.remember(key, 0)
	return aws.ToString(out.ETag), nil
}

// Delete removes an object. Deletes carry no key: S3 needs none for them.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)})
	if err != nil {
		return &Error{Op: opDelete, Object: key, Kind: kindOf(err), Err: err}
	}
	b.keyOf.Remove(key)
	return nil
}

// writeError names the current key, the one every write uses. A 403 on a write whose key
// reads fine usually means the bucket blocks SSE-C writes; the log says so at mount.
func (b *Bucket) writeError(op, key string, err error) error {
	return &Error{Op: op, Object: key, Fingerprints: []string{b.keys[0].Fingerprint()}, Kind: kindOf(err), Err: err}
}
