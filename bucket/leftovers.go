package bucket

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// UploadJournal is told of every multipart upload this process starts and ends, so that
// a later mount can abort the uploads that a crash (kill -9, power loss) left open, and
// only those: S3 keeps no mark of who started an upload that a listing would show.
type UploadJournal interface {
	Started(uploadID string)
	Ended(uploadID string)
}

const opListUploads = "ListMultipartUploads"

// AbortUploads aborts the multipart uploads under prefix whose IDs are in ids (uploads a
// crashed mount of ours left open); uploads of other tools are never touched. It returns
// how many it aborted.
func (b *Bucket) AbortUploads(ctx context.Context, prefix string, ids map[string]bool) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var keyMarker, idMarker *string
	aborted := 0
	for page := 0; page < maxListPages; page++ {
		lctx, cancel := b.withTimeout(ctx)
		out, err := b.client.ListMultipartUploads(lctx, &s3.ListMultipartUploadsInput{
			Bucket:         aws.String(b.name),
			Prefix:         aws.String(prefix),
			KeyMarker:      keyMarker,
			UploadIdMarker: idMarker,
		})
		cancel()
		if err != nil {
			return aborted, &Error{Op: opListUploads, Object: prefix, Kind: kindOf(err), Err: err}
		}
		for _, up := range out.Uploads {
			id := aws.ToString(up.UploadId)
			if !ids[id] {
				continue
			}
			u := &Upload{b: b, key: aws.ToString(up.Key), id: id}
			if err := u.abort(); err != nil {
				return aborted, err
			}
			aborted++
		}
		if !aws.ToBool(out.IsTruncated) {
			return aborted, nil
		}
		nk, ni := aws.ToString(out.NextKeyMarker), aws.ToString(out.NextUploadIdMarker)
		if nk == "" || (keyMarker != nil && *keyMarker == nk && idMarker != nil && *idMarker == ni) {
			return aborted, &Error{Op: opListUploads, Object: prefix, Err: fmt.Errorf("server returned a truncated listing without a new marker")}
		}
		keyMarker, idMarker = &nk, &ni
	}
	return aborted, &Error{Op: opListUploads, Object: prefix, Err: fmt.Errorf("more than %d pages; giving up", maxListPages)}
}
