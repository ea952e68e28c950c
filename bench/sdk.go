package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/integration/s3server"
)

// sdk is the AWS SDK client of the ceiling measurements and of the setup: path style, static credentials, the
// server's CA only, and the transport ssecfs itself uses for the HTTP version asked (bucket.TuneTransport: the same
// buffers, connection pool and HTTP/2 windows), so that the ceiling and ssecfs run at the same settings.
type sdk struct {
	c     *s3.Client
	key   sseKey
	proto string // "1.1" or "2"; "" for ALPN's choice
}

// s3Endpoint is what a client needs to reach the server: what the bench's ceiling child is handed.
type s3Endpoint struct {
	Endpoint, CAFile, Region, AccessKey, SecretKey string
}

func endpointOf(srv *s3server.Server) s3Endpoint {
	return s3Endpoint{Endpoint: srv.Endpoint, CAFile: srv.CAFile, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
}

func newSDK(srv s3Endpoint, key sseKey, proto string) (*sdk, error) {
	caPEM, err := os.ReadFile(srv.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", srv.CAFile)
	}
	version, err := bucket.ParseHTTPVersion(proto)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // loopback only
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if err := bucket.TuneTransport(tr, version); err != nil {
		return nil, err
	}
	cfg := aws.Config{
		Region:                     srv.Region,
		Credentials:                aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")),
		HTTPClient:                 &http.Client{Transport: tr},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint)
		o.UsePathStyle = true
	})
	return &sdk{c: c, key: key, proto: proto}, nil
}

func (s *sdk) createBucket(ctx context.Context, name string) error {
	_, err := s.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	return err
}

// putMultipart writes size bytes of g as one keyed multipart upload of partSize parts, conc parts in flight.
func (s *sdk) putMultipart(ctx context.Context, bucket, key string, g *gen, size, partSize int64, conc int) error {
	alg, k, md := s.key.headers()
	up, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		SSECustomerAlgorithm: alg, SSECustomerKey: k, SSECustomerKeyMD5: md,
	})
	if err != nil {
		return fmt.Errorf("CreateMultipartUpload: %w", err)
	}
	nparts := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, nparts)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, partSize)
			for {
				i := int(next.Add(1) - 1)
				if i >= nparts || ctx.Err() != nil {
					return
				}
				off := int64(i) * partSize
				b := buf[:min(partSize, size-off)]
				g.fill(b, off)
				out, err := s.c.UploadPart(ctx, &s3.UploadPartInput{
					Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
					SSECustomerAlgorithm: alg, SSECustomerKey: k, SSECustomerKeyMD5: md,
				})
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("UploadPart %d: %w", i+1, err); cancel() })
					return
				}
				parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		actx, acancel := context.WithTimeout(context.Background(), time.Minute)
		defer acancel()
		_, _ = s.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId})
		return firstErr
	}
	_, err = s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload:      &types.CompletedMultipartUpload{Parts: parts},
		SSECustomerAlgorithm: alg, SSECustomerKey: k, SSECustomerKeyMD5: md,
	})
	if err != nil {
		return fmt.Errorf("CompleteMultipartUpload: %w", err)
	}
	return nil
}

// put writes one small keyed object.
func (s *sdk) put(ctx context.Context, bucket, key string, body []byte) error {
	alg, k, md := s.key.headers()
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		SSECustomerAlgorithm: alg, SSECustomerKey: k, SSECustomerKeyMD5: md,
	})
	return err
}

// getRange reads length bytes at off of a keyed object into dst (len(dst) >= length) and returns how many it got.
func (s *sdk) getRange(ctx context.Context, bucket, key string, off, length int64, dst []byte) (int, error) {
	alg, k, md := s.key.headers()
	in := &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		SSECustomerAlgorithm: alg, SSECustomerKey: k, SSECustomerKeyMD5: md,
	}
	if length > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	}
	out, err := s.c.GetObject(ctx, in)
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, dst)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// getParallel reads a whole keyed object with ranged GETs of rangeSize, conc in flight, discarding the data.
func (s *sdk) getParallel(ctx context.Context, bucket, key string, size, rangeSize int64, conc int) (int64, error) {
	n := (size + rangeSize - 1) / rangeSize
	var next, total atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, rangeSize)
			for {
				i := next.Add(1) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				off := i * rangeSize
				got, err := s.getRange(ctx, bucket, key, off, min(rangeSize, size-off), buf)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				total.Add(int64(got))
			}
		}()
	}
	wg.Wait()
	return total.Load(), firstErr
}

// getAllCRC reads a whole keyed object with one GET and returns its length and CRC-32C.
func (s *sdk) getAllCRC(ctx context.Context, bucket, key string) (int64, uint32, error) {
	alg, k, md := s.key.headers()
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		SSECustomerAlgorithm: alg, SSECustomerKey: k, SSECustomerKeyMD5: md,
	})
	if err != nil {
		return 0, 0, err
	}
	defer out.Body.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, out.Body)
	return n, h.Sum32(), err
}

// head returns the size of an object, with the key or without it.
func (s *sdk) head(ctx context.Context, bucket, key string, keyed bool) (int64, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if keyed {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.key.headers()
	}
	out, err := s.c.HeadObject(ctx, in)
	if err != nil {
		return 0, err
	}
	return aws.ToInt64(out.ContentLength), nil
}

// listDir lists prefix with delimiter "/" as a directory listing does, and returns the entries and the requests sent.
func (s *sdk) listDir(ctx context.Context, bucket, prefix string) (entries, requests int, err error) {
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() && requests < 100000 {
		out, err := p.NextPage(ctx)
		requests++
		if err != nil {
			return entries, requests, err
		}
		entries += len(out.Contents) + len(out.CommonPrefixes)
	}
	return entries, requests, nil
}

// countKeys counts the objects under prefix.
func (s *sdk) countKeys(ctx context.Context, bucket, prefix string) (int, error) {
	n, _, err := s.listDir(ctx, bucket, prefix)
	return n, err
}

// putMany writes n small keyed objects name(i) with body(i), conc at a time.
func (s *sdk) putMany(ctx context.Context, bucket string, n, conc int, name func(int) string, body func(int) []byte) error {
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := s.put(ctx, bucket, name(i), body(i)); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("PutObject %s: %w", name(i), err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// httpStatus is the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// downloadTree fetches prefix+name for every name with whole-object keyed GETs, conc at once, each into the file
// dst/name (dst is created): a tree download as a tool that knows the listing would do it.
func (s *sdk) downloadTree(ctx context.Context, bucket, prefix string, names []string, dst string, conc int) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	alg, k, md := s.key.headers()
	bufs := sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}
	return forEach(ctx, len(names), conc, func(ctx context.Context, i int) error {
		out, err := s.c.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(prefix + names[i]),
			SSECustomerAlgorithm: alg, SSECustomerKey: k, SSECustomerKeyMD5: md,
		})
		if err != nil {
			return fmt.Errorf("GetObject %s: %w", names[i], err)
		}
		defer out.Body.Close()
		f, err := os.Create(filepath.Join(dst, names[i]))
		if err != nil {
			return err
		}
		buf := bufs.Get().(*[]byte)
		defer bufs.Put(buf)
		_, err = io.CopyBuffer(f, out.Body, *buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// uploadTree writes every file src/name to prefix+name with one keyed PutObject each, conc at once: a tree upload as
// a tool would do it, reading each file whole first (files of a tree fit in memory; larger ones would be multipart).
func (s *sdk) uploadTree(ctx context.Context, bucket, prefix, src string, names []string, conc int) error {
	bufs := sync.Pool{New: func() any { return new([]byte) }}
	return forEach(ctx, len(names), conc, func(ctx context.Context, i int) error {
		buf := bufs.Get().(*[]byte)
		defer bufs.Put(buf)
		f, err := os.Open(filepath.Join(src, names[i]))
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err == nil && int64(cap(*buf)) < st.Size() {
			*buf = make([]byte, st.Size())
		}
		var n int
		if err == nil {
			n, err = io.ReadFull(f, (*buf)[:st.Size()])
		}
		f.Close()
		if err != nil {
			return err
		}
		if err := s.put(ctx, bucket, prefix+names[i], (*buf)[:n]); err != nil {
			return fmt.Errorf("PutObject %s: %w", names[i], err)
		}
		return nil
	})
}

// listSizes lists prefix (recursively) and returns each object's size by key relative to prefix.
func (s *sdk) listSizes(ctx context.Context, bucket, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, err
		}
		for _, o := range page.Contents {
			out[strings.TrimPrefix(aws.ToString(o.Key), prefix)] = aws.ToInt64(o.Size)
		}
	}
	return out, nil
}
