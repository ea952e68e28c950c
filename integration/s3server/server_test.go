package s3server

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type sseKey struct{ key, md5 string }

func newSSEKey(t *testing.T) sseKey {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(raw)
	return sseKey{base64.StdEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(sum[:])}
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func getWithKey(ctx context.Context, c *s3.Client, bucket, key string, k *sseKey) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if k != nil {
		in.SSECustomerAlgorithm = aws.String("AES256")
		in.SSECustomerKey = aws.String(k.key)
		in.SSECustomerKeyMD5 = aws.String(k.md5)
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func TestServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	last := time.Now()
	step := func(what string) {
		t.Logf("%-28s %v", what, time.Since(last).Round(time.Millisecond))
		last = time.Now()
	}
	t0 := time.Now()
	s := StartT(t)
	step("Start")
	t.Logf("Start took %v (endpoint %s, plain HTTP %s)", time.Since(t0).Round(time.Millisecond), s.Endpoint, s.HTTPEndpoint)

	const bucket = "ssec-test"
	if err := s.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	step("CreateBucket")
	c, err := s.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}

	key := newSSEKey(t)
	data := make([]byte, 300<<10+17)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(bucket),
		Key:                  aws.String("dir/obj"),
		Body:                 bytes.NewReader(data),
		SSECustomerAlgorithm: aws.String("AES256"),
		SSECustomerKey:       aws.String(key.key),
		SSECustomerKeyMD5:    aws.String(key.md5),
	})
	if err != nil {
		t.Fatalf("PutObject with SSE-C: %v", err)
	}
	step("PutObject")

	got, err := getWithKey(ctx, c, bucket, "dir/obj", &key)
	if err != nil {
		t.Fatalf("GetObject with the key: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("GetObject returned %d bytes, differing from the %d put", len(got), len(data))
	}
	step("GetObject")

	if _, err := getWithKey(ctx, c, bucket, "dir/obj", nil); err == nil {
		t.Fatal("GetObject without the SSE-C key succeeded")
	} else {
		t.Logf("GetObject without key: HTTP %d (%v)", httpStatus(err), err)
	}

	wrong := newSSEKey(t)
	if _, err := getWithKey(ctx, c, bucket, "dir/obj", &wrong); err == nil {
		t.Fatal("GetObject with a wrong SSE-C key succeeded")
	} else if st := httpStatus(err); st != http.StatusForbidden {
		t.Fatalf("GetObject with a wrong key: want HTTP 403, got %d: %v", st, err)
	}
	step("GetObject (no key, wrong key)")

	// The plain-HTTP port answers too.
	hc, err := s.newClient(s.HTTPEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := hc.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets over plain HTTP: %v", err)
	}
	if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != bucket {
		t.Fatalf("ListBuckets over plain HTTP: got %+v", lb.Buckets)
	}
	step("ListBuckets over HTTP")

	// The HTTPS port does not speak plain HTTP, and a client without our CA does not trust it.
	if _, err := http.Get(s.Endpoint + "/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("GET %s with the system roots: want a certificate error, got %v", s.Endpoint, err)
	}
	step("untrusted GET")

	// Stop, then Restart: same ports, same data.
	tStop := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop took %v", time.Since(tStop).Round(time.Millisecond))
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	t1 := time.Now()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Restart after Stop took %v", time.Since(t1).Round(time.Millisecond))
	got, err = getWithKey(ctx, c, bucket, "dir/obj", &key)
	if err != nil {
		t.Fatalf("GetObject after Restart: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("object changed across Stop/Restart")
	}
	step("Stop, Restart, GetObject")

	// Kill (crash), then Restart: data written before the crash is still there.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(bucket),
		Key:                  aws.String("second"),
		Body:                 strings.NewReader("before the crash"),
		SSECustomerAlgorithm: aws.String("AES256"),
		SSECustomerKey:       aws.String(key.key),
		SSECustomerKeyMD5:    aws.String(key.md5),
	})
	if err != nil {
		t.Fatalf("PutObject after Restart: %v", err)
	}
	step("PutObject")
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Kill")
	}
	t2 := time.Now()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Restart after Kill took %v", time.Since(t2).Round(time.Millisecond))
	got, err = getWithKey(ctx, c, bucket, "second", &key)
	if err != nil {
		t.Fatalf("GetObject after Kill and Restart: %v", err)
	}
	if string(got) != "before the crash" {
		t.Fatalf("after Kill and Restart: got %q", got)
	}
}

// TestEnv checks the variables a child process gets.
func TestEnv(t *testing.T) {
	s := &Server{AccessKey: "AK", SecretKey: "SK", Region: "us-east-1", awsConfig: "/d/aws-config", awsCredential: "/d/aws-credentials"}
	want := map[string]string{
		"AWS_ACCESS_KEY_ID":           "AK",
		"AWS_SECRET_ACCESS_KEY":       "SK",
		"AWS_REGION":                  "us-east-1",
		"AWS_CONFIG_FILE":             "/d/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE": "/d/aws-credentials",
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	got := map[string]string{}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	if len(got) != len(want) {
		t.Fatalf("Env() = %v", s.Env())
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// TestParallel starts two servers at once: their ports must not collide.
func TestParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	servers := make([]*Server, 2)
	errs := make([]error, 2)
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i], errs[i] = Start(t.TempDir())
		}()
	}
	wg.Wait()
	for i, s := range servers {
		if s != nil {
			t.Cleanup(func() { _ = s.Stop() })
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	if servers[0].Endpoint == servers[1].Endpoint {
		t.Fatalf("both servers at %s", servers[0].Endpoint)
	}
	for i, s := range servers {
		if err := s.CreateBucket(ctx, "bucket"); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
}
