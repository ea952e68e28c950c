package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssecfs/ssecfs/integration/mountinfo"
	"github.com/ssecfs/ssecfs/integration/s3server"
	"github.com/ssecfs/ssecfs/keysrc"
)

// fixture is one test's bucket on an S3 server, a key, and a client that writes with it
// as users' other tools would (the AWS SDK).
type fixture struct {
	t       *testing.T
	srv     *s3server.Server
	s3      *s3.Client
	bucket  string
	key     keysrc.Key
	keyFile string
	dir     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, shared)
}

var bucketNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

func newFixtureOn(t *testing.T, srv *s3server.Server) *fixture {
	t.Helper()
	ctx := context.Background()
	client, err := srv.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := bucketNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-")
	name = fmt.Sprintf("%.40s-%06d", strings.Trim(name, "-"), rand.IntN(1e6))
	if err := srv.CreateBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: srv, s3: client, bucket: name, key: newKey(t), dir: t.TempDir()}
	f.keyFile = f.writeKeyFile("key", f.key)
	return f
}

func newKey(t *testing.T) keysrc.Key {
	t.Helper()
	k, err := keysrc.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeKeyFile writes keys (first = current) to a 0600 file in the fixture's directory,
// as a user would: a comment, then each key's base64 under a comment naming it.
func (f *fixture) writeKeyFile(name string, keys ...keysrc.Key) string {
	f.t.Helper()
	var b strings.Builder
	b.WriteString("# ssecfs test keys: the first writes, the others only read.\n")
	for _, k := range keys {
		b.WriteString("# fingerprint " + k.Fingerprint() + "\n" + k.Base64() + "\n")
	}
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// put writes an object SSE-C encrypted with the fixture's key.
func (f *fixture) put(name string, data []byte) {
	f.t.Helper()
	f.putWith(name, data, &f.key, nil)
}

// putWith writes an object with key k (nil: not SSE-C encrypted) and user metadata.
func (f *fixture) putWith(name string, data []byte, k *keysrc.Key, meta map[string]string) {
	f.t.Helper()
	in := &s3.PutObjectInput{
		Bucket:   aws.String(f.bucket),
		Key:      aws.String(name),
		Body:     bytes.NewReader(data),
		Metadata: meta,
	}
	if k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = sseC(*k)
	}
	if _, err := f.s3.PutObject(context.Background(), in); err != nil {
		f.t.Fatalf("PutObject %q: %v", name, err)
	}
}

// putMultipart writes an object with a keyed multipart upload of partSize parts.
func (f *fixture) putMultipart(name string, data []byte, partSize int) {
	f.t.Helper()
	ctx := context.Background()
	alg, key, md := sseC(f.key)
	up, err := f.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(f.bucket), Key: aws.String(name),
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: md,
	})
	if err != nil {
		f.t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var parts []types.CompletedPart
	for i, off := int32(1), 0; off < len(data); i, off = i+1, off+partSize {
		end := min(off+partSize, len(data))
		out, err := f.s3.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(f.bucket), Key: aws.String(name), UploadId: up.UploadId,
			PartNumber: aws.Int32(i), Body: bytes.NewReader(data[off:end]),
			SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: md,
		})
		if err != nil {
			f.t.Fatalf("UploadPart %d: %v", i, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(i)})
	}
	_, err = f.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(f.bucket), Key: aws.String(name), UploadId: up.UploadId,
		MultipartUpload:      &types.CompletedMultipartUpload{Parts: parts},
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: md,
	})
	if err != nil {
		f.t.Fatalf("CompleteMultipartUpload: %v", err)
	}
}

// putMany writes n small objects under prefix, several at a time.
func (f *fixture) putMany(prefix string, n int) {
	f.t.Helper()
	atOnce(n, 16, func(i int) {
		f.put(fmt.Sprintf("%sf%05d", prefix, i), []byte(fmt.Sprintf("object %d\n", i)))
	})
}

// atOnce calls fn(0) ... fn(n-1), at most limit at a time, and returns when all are done.
func atOnce(n, limit int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

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

// sseC is the SSE-C headers of k. Its fingerprint is the base64 MD5 of the key, which
// is what S3 wants as the key's MD5.
func sseC(k keysrc.Key) (alg, key, md *string) {
	return aws.String("AES256"), aws.String(k.Base64()), aws.String(k.Fingerprint())
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// ssecfs runs the binary with the server's credentials in its environment and returns
// its combined output and exit code. It is bounded in time.
func (f *fixture) ssecfs(env []string, args ...string) (string, int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ssecfsBin, args...)
	cmd.Env = append(append(cleanEnv(), f.srv.Env()...), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return string(out), code
}

// cleanEnv is our environment without AWS settings the machine may carry.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") {
			env = append(env, e)
		}
	}
	return env
}

// mountArgs are the flags that point ssecfs at the fixture's server and key.
func (f *fixture) mountArgs() []string {
	return []string{"--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile, "--key-file", f.keyFile}
}

// mount mounts the fixture's bucket (or target, e.g. "bucket/prefix") with the binary in
// the background, as users do, and unmounts it when the test ends.
func (f *fixture) mount(extra ...string) string {
	f.t.Helper()
	mp := filepath.Join(f.dir, fmt.Sprintf("mnt%d", rand.IntN(1e6)))
	if err := os.Mkdir(mp, 0o755); err != nil {
		f.t.Fatal(err)
	}
	target := f.bucket
	args := []string{"mount"}
	for i := 0; i < len(extra); i++ {
		if extra[i] == "--target" {
			target = extra[i+1]
			i++
			continue
		}
		args = append(args, extra[i])
	}
	args = append(append(args, f.mountArgs()...), target, mp)
	// The binary is built with -race: its reports go to files checked when the test
	// ends, so every mounted test is also a data-race test of the mount.
	raceLog := filepath.Join(f.dir, fmt.Sprintf("race-%s", filepath.Base(mp)))
	f.t.Cleanup(func() { checkRaceReports(f.t, raceLog) })
	out, code := f.ssecfs([]string{"GORACE=log_path=" + raceLog}, args...)
	if code != 0 {
		f.t.Fatalf("ssecfs mount exited %d:\n%s", code, out)
	}
	if !isMounted(mp) {
		f.t.Fatalf("ssecfs mount exited 0 but %s is not mounted:\n%s", mp, out)
	}
	f.t.Cleanup(func() { unmount(f.t, mp) })
	return mp
}

// checkRaceReports fails the test if the race detector of a mount wrote a report to a
// file named prefix.<pid>; it runs after the unmount (cleanups run last first).
func checkRaceReports(t testing.TB, prefix string) {
	reports, _ := filepath.Glob(prefix + ".*")
	for _, r := range reports {
		body, _ := os.ReadFile(r)
		t.Errorf("the mount's race detector reported (%s):\n%s", r, logTail(string(body), 8000))
	}
}

// isMounted reports whether dir is a mount point.
func isMounted(dir string) bool { return mountinfo.IsMounted(dir) }

// unmount unmounts dir and waits (bounded) until the kernel no longer lists it.
func unmount(t testing.TB, dir string) {
	t.Helper()
	if !isMounted(dir) {
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := syscall.Unmount(dir, 0)
		if err == nil || !isMounted(dir) {
			return
		}
		if time.Now().After(deadline) {
			syscall.Unmount(dir, syscall.MNT_DETACH)
			t.Errorf("unmounting %s: %v (detached it lazily)", dir, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bucketKeys lists every key under prefix (no delimiter), sorted, with the SDK.
func bucketKeys(t *testing.T, f *fixture, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(f.s3, &s3.ListObjectsV2Input{Bucket: aws.String(f.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListObjectsV2 %q: %v", prefix, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}
