package bucket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// copyRequest is what the fake saw of one CopyObject, UploadPartCopy,
// CreateMultipartUpload or CompleteMultipartUpload.
type copyRequest struct {
	op                   string
	key                  string
	source, sourceMatch  string // x-amz-copy-source and its If-Match
	sourceFP, fp         string // the keys of the source and of the new object, by fingerprint
	directive            string
	meta                 map[string]string
	contentType          string
	ifMatch, ifNoneMatch string
}

// fakeCopies makes the fake S3 copy objects server-side, with the key checks of S3: the
// copy-source key must be the source's, and the copy is stored under the request's key.
type fakeCopies struct {
	f    *fakeS3
	mu   sync.Mutex
	seen []copyRequest
}

func (c *fakeCopies) hook(w http.ResponseWriter, r *http.Request, n int) bool {
	q := r.URL.Query()
	key := strings.TrimPrefix(r.URL.Path, "/b/")
	req := copyRequest{
		key:         key,
		source:      r.Header.Get("X-Amz-Copy-Source"),
		sourceMatch: r.Header.Get("X-Amz-Copy-Source-If-Match"),
		sourceFP:    r.Header.Get("X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key-Md5"),
		fp:          r.Header.Get(hdrMD5),
		directive:   r.Header.Get("X-Amz-Metadata-Directive"),
		meta:        map[string]string{},
		contentType: r.Header.Get("Content-Type"),
		ifMatch:     r.Header.Get("If-Match"),
		ifNoneMatch: r.Header.Get("If-None-Match"),
	}
	for k, v := range r.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
			req.meta[name] = v[0]
		}
	}
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		req.op = "CreateMultipartUpload"
		c.note(req)
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`, key)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		req.op = "CompleteMultipartUpload"
		c.note(req)
		fmt.Fprintf(w, `<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><ETag>"completed"</ETag></CompleteMultipartUploadResult>`, key)
	case r.Method == http.MethodPut && req.source != "":
		req.op = "CopyObject"
		if q.Has("uploadId") {
			req.op = "UploadPartCopy"
		}
		c.f.mu.Lock()
		src, ok := c.f.objects[strings.TrimPrefix(req.source, "b/")]
		c.f.mu.Unlock()
		switch {
		case !ok:
			s3Error(w, r, 404, "NoSuchKey", "The specified key does not exist.")
			return true
		case src.fp != req.sourceFP:
			s3Error(w, r, 403, "AccessDenied", "Access Denied")
			return true
		case req.sourceMatch != "" && req.sourceMatch != src.etag:
			s3Error(w, r, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
			return true
		}
		c.note(req)
		if req.op == "UploadPartCopy" {
			fmt.Fprintf(w, `<CopyPartResult><ETag>"part-%d"</ETag></CopyPartResult>`, n)
			return true
		}
		meta := src.meta
		if req.directive == "REPLACE" {
			meta = req.meta
		}
		o := s3Object{data: src.data, etag: fmt.Sprintf(`"copy-%d"`, n), fp: req.fp, meta: meta, mod: src.mod, ctype: req.contentType}
		c.f.mu.Lock()
		c.f.objects[key] = o
		c.f.mu.Unlock()
		fmt.Fprintf(w, `<CopyObjectResult><ETag>%s</ETag><LastModified>2024-05-06T07:08:09.000Z</LastModified></CopyObjectResult>`, o.etag)
	default:
		return false
	}
	return true
}

func (c *fakeCopies) note(r copyRequest) {
	c.mu.Lock()
	c.seen = append(c.seen, r)
	c.mu.Unlock()
}

func (c *fakeCopies) requests() []copyRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.seen
	c.seen = nil
	return r
}

// Copy and Reencrypt send the same keyed CopyObject: the key that opens the source in
// the copy-source headers, pinned to its version, and the current key for the copy.
// Copy with new metadata carries a save identifier and the write's conditions;
// Reencrypt sends the object's own metadata and content headers again.
func TestCopyAndReencryptAreKeyedCopies(t *testing.T) {
	f := newFakeS3(t)
	cur, old := genKey(t), genKey(t)
	src := f.put("src", "data", &old, map[string]string{"mode": "33188"})
	f.mu.Lock()
	o := f.objects["src"]
	o.ctype = "text/plain"
	f.objects["src"] = o
	f.mu.Unlock()
	copies := &fakeCopies{f: f}
	f.hook = copies.hook
	b, _ := openFake(t, f, cur, old)
	ctx := context.Background()

	etag, err := b.Copy(ctx, "src", src.etag, 4, "dst", map[string]string{"mode": "33261"}, Condition{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	reqs := copies.requests()
	if len(reqs) != 1 {
		t.Fatalf("Copy sent %+v", reqs)
	}
	r := reqs[0]
	if r.op != "CopyObject" || r.key != "dst" || r.source != "b/src" || r.sourceMatch != src.etag ||
		r.sourceFP != old.Fingerprint() || r.fp != cur.Fingerprint() || r.directive != "REPLACE" ||
		r.meta["mode"] != "33261" || r.meta[SaveIDMeta] == "" || r.ifNoneMatch != "*" || r.ifMatch != "" {
		t.Errorf("Copy sent %+v", r)
	}
	f.mu.Lock()
	if got := f.objects["dst"]; etag != got.etag || got.fp != cur.Fingerprint() {
		t.Errorf("Copy answered %s; the copy is %+v", etag, got)
	}
	f.mu.Unlock()

	// nil metadata keeps the source's, with the COPY directive and no save identifier.
	if _, err := b.Copy(ctx, "src", src.etag, 4, "dst2", nil, Condition{IfMatch: `"x"`}); err != nil {
		t.Fatal(err)
	}
	if r := copies.requests()[0]; r.directive != "" || len(r.meta) != 0 || r.ifMatch != `"x"` || r.sourceFP != old.Fingerprint() {
		t.Errorf("Copy with nil metadata sent %+v", r)
	}

	newETag, err := b.Reencrypt(ctx, "src", src.etag, 4)
	if err != nil {
		t.Fatal(err)
	}
	r = copies.requests()[0]
	if r.op != "CopyObject" || r.key != "src" || r.source != "b/src" || r.sourceMatch != src.etag ||
		r.sourceFP != old.Fingerprint() || r.fp != cur.Fingerprint() || r.directive != "REPLACE" ||
		r.meta["mode"] != "33188" || r.contentType != "text/plain" || r.ifMatch != "" || r.ifNoneMatch != "" {
		t.Errorf("Reencrypt sent %+v", r)
	}
	if _, ok := r.meta[SaveIDMeta]; ok {
		t.Errorf("Reencrypt's one-request copy carries a save identifier: %+v", r.meta)
	}
	f.mu.Lock()
	if got := f.objects["src"]; newETag != got.etag || got.fp != cur.Fingerprint() || got.meta["mode"] != "33188" {
		t.Errorf("Reencrypt answered %s; the object is %+v", newETag, got)
	}
	f.mu.Unlock()

	// The source changed since its ETag was read: ErrChanged, nothing copied.
	if _, err := b.Reencrypt(ctx, "src", src.etag, 4); !errors.Is(err, ErrChanged) {
		t.Errorf("Reencrypt of a changed source = %v; want ErrChanged", err)
	}
}

// An object too large for one CopyObject is re-encrypted in a multipart upload begun as
// StartUpload begins one (with a save identifier), with the object's metadata and
// content headers, copied part by part with the old key and completed If-Match the
// version read.
func TestReencryptLargeObjectCopiesPartByPart(t *testing.T) {
	f := newFakeS3(t)
	cur, old := genKey(t), genKey(t)
	src := f.put("big", "data", &old, map[string]string{"mode": "33188"})
	f.mu.Lock()
	o := f.objects["big"]
	o.ctype = "application/x-tar"
	f.objects["big"] = o
	f.mu.Unlock()
	copies := &fakeCopies{f: f}
	f.hook = copies.hook
	b, _ := openFake(t, f, cur, old)

	size := int64(maxCopyObject + 1)
	etag, err := b.Reencrypt(context.Background(), "big", src.etag, size)
	if err != nil {
		t.Fatal(err)
	}
	if etag != `"completed"` {
		t.Errorf("Reencrypt answered %s", etag)
	}
	reqs := copies.requests()
	wantParts := int((size + copyPartSize - 1) / copyPartSize)
	if len(reqs) != wantParts+2 {
		t.Fatalf("%d requests, want CreateMultipartUpload, %d UploadPartCopy and CompleteMultipartUpload: %+v", len(reqs), wantParts, reqs)
	}
	create, done := reqs[0], reqs[len(reqs)-1]
	if create.op != "CreateMultipartUpload" || create.key != "big" || create.fp != cur.Fingerprint() ||
		create.meta["mode"] != "33188" || create.meta[SaveIDMeta] == "" || create.contentType != "application/x-tar" {
		t.Errorf("CreateMultipartUpload %+v", create)
	}
	for _, r := range reqs[1 : len(reqs)-1] {
		if r.op != "UploadPartCopy" || r.source != "b/big" || r.sourceMatch != src.etag || r.sourceFP != old.Fingerprint() || r.fp != cur.Fingerprint() {
			t.Errorf("part %+v", r)
		}
	}
	if done.op != "CompleteMultipartUpload" || done.ifMatch != src.etag || done.fp != cur.Fingerprint() {
		t.Errorf("CompleteMultipartUpload %+v", done)
	}
}
