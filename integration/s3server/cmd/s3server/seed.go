package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ssecfs/ssecfs/integration/s3server"
	"github.com/ssecfs/ssecfs/keysrc"
)

// seed writes the demo's objects with the AWS SDK, as another tool of the user's would,
// each SSE-C encrypted with the current key of keyFile.
func seed(ctx context.Context, s *s3server.Server, bucket, keyFile string) error {
	keys, err := keysrc.FromFile(keyFile)
	if err != nil {
		return err
	}
	key := keys.Current()
	client, err := s.Client(ctx)
	if err != nil {
		return err
	}
	var csv strings.Builder
	csv.WriteString("n,square\n")
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&csv, "%d,%d\n", i, i*i)
	}
	random := make([]byte, 20<<20)
	rand.Read(random)
	objects := []struct {
		name string
		body []byte
	}{
		{"hello.txt", []byte("Hello from an SSE-C encrypted bucket.\nS3 holds only ciphertext; the key stays with you.\n")},
		{"reports/", nil},
		{"reports/2026/summary.md", []byte("# Summary\n\nEvery byte of this file was encrypted by S3 with the customer's key.\n")},
		{"data/squares.csv", []byte(csv.String())},
		{"data/random-20MiB.bin", random},
		{"with space and ünïcødé.txt", []byte("Names are kept as they are.\n")},
	}
	for _, o := range objects {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:               aws.String(bucket),
			Key:                  aws.String(o.name),
			Body:                 bytes.NewReader(o.body),
			SSECustomerAlgorithm: aws.String("AES256"),
			SSECustomerKey:       aws.String(key.Base64()),
			SSECustomerKeyMD5:    aws.String(key.Fingerprint()),
		})
		if err != nil {
			return fmt.Errorf("seeding %s: %w", o.name, err)
		}
	}
	return nil
}
