package bucket

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Entry is one child of a listed prefix: a common prefix (Dir) or an object.
type Entry struct {
	Key          string // full key; a Dir's ends in "/"
	Dir          bool
	Size         int64 // plaintext size: S3 lists it without needing the key
	ETag         string
	LastModified time.Time
}

// ListPage lists one page (up to 1,000) of the children of prefix (which is "" or ends in
// "/") with delimiter "/", starting at token ("" for the first page). It returns the
// entries in key order and the token of the next page, "" after the last. Listings carry
// no SSE-C headers: S3 needs none for them. The marker object of prefix itself is left out.
func (b *Bucket) ListPage(ctx context.Context, prefix, token string) ([]Entry, string, error) {
	listed, next, err := b.listPage(ctx, prefix, "/", token)
	if err != nil {
		return nil, "", err
	}
	entries := listed[:0]
	for _, e := range listed {
		if !e.Dir && e.Key == prefix {
			continue
		}
		entries = append(entries, e)
	}
	// S3 answers objects and common prefixes in two lists; readers want one, in key order.
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	return entries, next, nil
}

// listPage sends one ListObjectsV2 for the keys under prefix, from token ("" for the
// first page), rolled up at delimiter ("" for none). It answers the common prefixes and
// then the objects, as S3 sent them, and the token of the next page, "" after the last.
// Every listing goes through here.
func (b *Bucket) listPage(ctx context.Context, prefix, delimiter, token string) ([]Entry, string, error) {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(b.name),
		Prefix: aws.String(prefix),
	}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	if token != "" {
		in.ContinuationToken = aws.String(token)
	}
	out, err := b.client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, "", &Error{Op: opList, Object: prefix, Kind: kindOf(err), Err: err}
	}
	entries := make([]Entry, 0, len(out.CommonPrefixes)+len(out.Contents))
	for _, p := range out.CommonPrefixes {
		entries = append(entries, Entry{Key: aws.ToString(p.Prefix), Dir: true})
	}
	for _, o := range out.Contents {
		entries = append(entries, Entry{
			Key:          aws.ToString(o.Key),
			Size:         aws.ToInt64(o.Size),
			ETag:         aws.ToString(o.ETag),
			LastModified: aws.ToTime(o.LastModified),
		})
	}
	next := aws.ToString(out.NextContinuationToken)
	if !aws.ToBool(out.IsTruncated) {
		return entries, "", nil
	}
	// A truncated page without a new token would list the same page forever.
	if next == "" || next == token {
		return nil, "", &Error{Op: opList, Object: prefix, Err: fmt.Errorf("server returned a truncated listing without a new continuation token")}
	}
	return entries, next, nil
}

// PrefixExists reports whether any object has a key starting with prefix.
func (b *Bucket) PrefixExists(ctx context.Context, prefix string) (bool, error) {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	out, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(b.name),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return false, &Error{Op: opList, Object: prefix, Kind: kindOf(err), Err: err}
	}
	return len(out.Contents) > 0 || len(out.CommonPrefixes) > 0, nil
}

// maxListPages bounds one listing: 10 million entries at 1,000 a page.
const maxListPages = 10000
