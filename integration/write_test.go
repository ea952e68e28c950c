package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// getObject reads an object with the fixture's key through the SDK.
func (f *fixture) getObject(name string) ([]byte, error) {
	alg, key, md := sseC(f.key)
	out, err := f.s3.GetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(f.bucket), Key: aws.String(name),
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: md,
	})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(out.Body)
	return b.Bytes(), err
}

// getObjectWithoutKey must fail for everything the mount writes.
func (f *fixture) getObjectWithoutKey(name string) error {
	out, err := f.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(name)})
	if err == nil {
		out.Body.Close()
	}
	return err
}

func TestWriteSmoke(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()
	for _, n := range []int{0, 1, 5<<20 - 1, 5 << 20, 5<<20 + 1, 20 << 20} {
		name := filepath.Join(mp, "f"+strconv.Itoa(n))
		data := randomBytes(n, uint64(n)+1)
		if err := os.WriteFile(name, data, 0o640); err != nil {
			t.Fatalf("write %d: %v", n, err)
		}
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("read back %d: %d bytes, %v", n, len(got), err)
		}
		obj, err := f.getObject("f" + strconv.Itoa(n))
		if err != nil || !bytes.Equal(obj, data) {
			t.Errorf("SDK read of %d: %d bytes, %v", n, len(obj), err)
		}
		if err := f.getObjectWithoutKey("f" + strconv.Itoa(n)); err == nil {
			t.Errorf("object of %d bytes readable without the key", n)
		}
	}
}
