package bucket

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ListAll calls fn with every object whose key starts with prefix, at any depth, a page
// at a time (no delimiter). Renaming a directory moves all of them.
func (b *Bucket) ListAll(ctx context.Context, prefix string, fn func([]Entry) error) error {
	var token *string
	for page := 0; page < maxListPages; page++ {
		lctx, cancel := b.withTimeout(ctx)
		out, err := b.client.ListObjectsV2(lctx, &s3.ListObjectsV2Input{
			Bucket:            aws.String(b.name),
			Prefix:            aws.String(prefix),
			ContinuationToken: token,
		})
		cancel()
		if err != nil {
			return &Error{Op: opList, Object: prefix, Kind: kindOf(err), Err: err}
		}
		entries := make([]Entry, 0, len(out.Contents))
		for _, o := range out.Contents {
			entries = append(entries, Entry{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				ETag:         aws.ToString(o.ETag),
				LastModified: aws.ToTime(o.LastModified),
			})
		}
		if err := fn(entries); err != nil {
			return err
		}
		next := aws.ToString(out.NextContinuationToken)
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		if next == "" || (token != nil && *token == next) {
			return &Error{Op: opList, Object: prefix, Err: fmt.Errorf("server returned a truncated listing without a new continuation token")}
		}
		token = &next
	}
	return &Error{Op: opList, Object: prefix, Err: fmt.Errorf("more than %d pages; giving up", maxListPages)}
}
