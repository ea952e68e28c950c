package bucket

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	opHead = "HeadObject"
	opGet  = "GetObject"
	opList = "ListObjectsV2"
)

// ObjectInfo is what a keyed HEAD says of an object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
	// Metadata is the user metadata, names lower-cased without "x-amz-meta-".
	Metadata map[string]string
	// Encrypted is false for an object that is not SSE-C encrypted.
	Encrypted bool
}

// Head fetches an object's attributes with a keyed HEAD.
func (b *Bucket) Head(ctx context.Context, object string) (ObjectInfo, error) {
	var out *s3.HeadObjectOutput
	err := b.withKey(ctx, opHead, object, func(ctx context.Context, h sseC) error {
		var err error
		out, err = b.client.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket:               aws.String(b.name),
			Key:                  aws.String(object),
			SSECustomerAlgorithm: h.Algorithm,
			SSECustomerKey:       h.Key,
			SSECustomerKeyMD5:    h.KeyMD5,
		})
		return err
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	meta := make(map[string]string, len(out.Metadata))
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return ObjectInfo{
		Key:          object,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		Metadata:     meta,
		Encrypted:    out.SSECustomerAlgorithm != nil,
	}, nil
}
