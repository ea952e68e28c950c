package s3server

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The integration tests give every test a bucket of its own, and each bucket's first
// write makes SeaweedFS grow volumes for it: the server must take writes into more
// than a hundred buckets (it did not with its default volume limit: 500 InternalError).
func TestWritesIntoManyBuckets(t *testing.T) {
	if testing.Short() {
		t.Skip("writes into 120 buckets")
	}
	s := StartT(t)
	ctx := context.Background()
	client, err := s.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 120 {
		name := fmt.Sprintf("many-%03d", i)
		if err := s.CreateBucket(ctx, name); err != nil {
			t.Fatalf("bucket %d: %v", i, err)
		}
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))}); err != nil {
			t.Fatalf("first write into bucket %d of 120: %v", i, err)
		}
	}
	t.Logf("120 buckets written in %v", time.Since(start).Round(time.Millisecond))
}
