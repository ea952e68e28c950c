package bucket

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/keysrc"
)

const (
	hdrAlg = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
	hdrKey = "X-Amz-Server-Side-Encryption-Customer-Key"
	hdrMD5 = "X-Amz-Server-Side-Encryption-Customer-Key-Md5"
)

// s3Object is one object of the fake: fp is the fingerprint of the key it is encrypted
// with, "" for an object that is not SSE-C encrypted.
type s3Object struct {
	data []byte
	etag string // quoted, as S3 sends it
	fp   string
	meta map[string]string
	mod  time.Time
	// ctype is the Content-Type, if any.
	ctype string
}

// s3Request is what the fake saw of one request.
type s3Request struct {
	Method  string
	Key     string // object key; "" for a bucket request (listing)
	Keyed   bool   // an SSE-C header was present
	FP      string // x-amz-server-side-encryption-customer-key-MD5
	Range   string
	IfMatch string
	Query   string
}

func (r s3Request) String() string {
	fp := "-"
	if r.Keyed {
		fp = r.FP
	}
	return r.Method + " " + r.Key + " " + fp
}

// fakeS3 is a path-style S3 endpoint for bucket "b" that checks SSE-C the way S3 does.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string]s3Object
	reqs    []s3Request
	// hook, if set, may answer a request itself (returning true).
	hook func(w http.ResponseWriter, r *http.Request, n int) bool
	// listPage is the page size of listings.
	listPage int

	srv *httptest.Server
}

func newFakeS3(t *testing.T) *fakeS3 {
	f := &fakeS3{objects: make(map[string]s3Object), listPage: 1000}
	f.srv = httptest.NewTLSServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeS3) put(key string, data string, k *keysrc.Key, meta map[string]string) s3Object {
	fp := ""
	if k != nil {
		fp = k.Fingerprint()
	}
	sum := md5.Sum([]byte(data + fp))
	o := s3Object{
		data: []byte(data),
		etag: fmt.Sprintf(`"%x"`, sum),
		fp:   fp,
		meta: meta,
		mod:  time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
	}
	f.mu.Lock()
	f.objects[key] = o
	f.mu.Unlock()
	return o
}

// requests returns the requests seen since the last call, and forgets them.
func (f *fakeS3) requests() []s3Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

func s3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if r.Method == http.MethodHead {
		w.WriteHeader(status) // HEAD answers carry no body
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	alg, key64, md5h := r.Header.Get(hdrAlg), r.Header.Get(hdrKey), r.Header.Get(hdrMD5)
	req := s3Request{
		Method:  r.Method,
		Keyed:   alg != "" || key64 != "" || md5h != "",
		FP:      md5h,
		Range:   r.Header.Get("Range"),
		IfMatch: r.Header.Get("If-Match"),
		Query:   r.URL.RawQuery,
	}
	key, isObject := strings.CutPrefix(r.URL.Path, "/b/")
	if isObject {
		req.Key = key
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	n := len(f.reqs)
	hook := f.hook
	f.mu.Unlock()

	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDFAKE/") {
		s3Error(w, r, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		return
	}
	if hook != nil && hook(w, r, n) {
		return
	}
	if req.Keyed {
		raw, err := base64.StdEncoding.DecodeString(key64)
		sum := md5.Sum(raw)
		if alg != "AES256" || err != nil || len(raw) != 32 || base64.StdEncoding.EncodeToString(sum[:]) != md5h {
			s3Error(w, r, 400, "InvalidArgument", "The calculated MD5 hash of the key did not match the hash that was provided.")
			return
		}
	}
	if !isObject || key == "" {
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2" {
			f.serveList(w, r)
			return
		}
		s3Error(w, r, 400, "InvalidRequest", "unexpected bucket request")
		return
	}

	f.mu.Lock()
	obj, ok := f.objects[key]
	f.mu.Unlock()
	switch {
	case !ok:
		s3Error(w, r, 404, "NoSuchKey", "The specified key does not exist.")
		return
	case obj.fp == "" && req.Keyed:
		s3Error(w, r, 400, "InvalidRequest", "The encryption parameters are not applicable to this object.")
		return
	case obj.fp != "" && !req.Keyed:
		s3Error(w, r, 400, "InvalidRequest", "The object was stored using a form of Server Side Encryption. "+
			"The correct parameters must be provided to retrieve the object.")
		return
	case obj.fp != "" && md5h != obj.fp:
		s3Error(w, r, 403, "AccessDenied", "Access Denied")
		return
	case req.IfMatch != "" && req.IfMatch != obj.etag:
		s3Error(w, r, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
		return
	}

	h := w.Header()
	h.Set("ETag", obj.etag)
	h.Set("Last-Modified", obj.mod.Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	for k, v := range obj.meta {
		h.Set("X-Amz-Meta-"+k, v)
	}
	if obj.ctype != "" {
		h.Set("Content-Type", obj.ctype)
	}
	if obj.fp != "" {
		h.Set(hdrAlg, "AES256")
		h.Set(hdrMD5, obj.fp)
	}
	switch r.Method {
	case http.MethodHead:
		h.Set("Content-Length", strconv.Itoa(len(obj.data)))
		w.WriteHeader(200)
	case http.MethodGet:
		data, status := obj.data, 200
		if req.Range != "" {
			var a, b int
			if _, err := fmt.Sscanf(req.Range, "bytes=%d-%d", &a, &b); err != nil || a > b {
				s3Error(w, r, 400, "InvalidArgument", "bad range "+req.Range)
				return
			}
			if a >= len(obj.data) {
				s3Error(w, r, 416, "InvalidRange", "The requested range is not satisfiable")
				return
			}
			b = min(b, len(obj.data)-1)
			data, status = obj.data[a:b+1], 206
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(obj.data)))
		}
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(status)
		w.Write(data)
	default:
		s3Error(w, r, 405, "MethodNotAllowed", "read-only fake")
	}
}

type listResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string   `xml:"Name"`
	Prefix                string   `xml:"Prefix"`
	KeyCount              int      `xml:"KeyCount"`
	MaxKeys               int      `xml:"MaxKeys"`
	IsTruncated           bool     `xml:"IsTruncated"`
	ContinuationToken     string   `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string   `xml:"NextContinuationToken,omitempty"`
	Contents              []listObject
	CommonPrefixes        []listPrefix
}

type listObject struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int    `xml:"Size"`
}

type listPrefix struct {
	Prefix string `xml:"Prefix"`
}

// serveList answers ListObjectsV2 with S3's delimiter roll-up and pagination (objects
// and common prefixes both count toward a page).
func (f *fakeS3) serveList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	pageSize := f.listPage
	if mk, err := strconv.Atoi(q.Get("max-keys")); err == nil && mk < pageSize {
		pageSize = mk
	}
	f.mu.Lock()
	keys := make([]string, 0, len(f.objects))
	for k := range f.objects {
		keys = append(keys, k)
	}
	objects := f.objects
	sort.Strings(keys)
	type result struct {
		key string
		dir bool
	}
	var all []result
	seen := make(map[string]bool)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, delim); delim != "" && i >= 0 {
			cp := prefix + rest[:i+len(delim)]
			if !seen[cp] {
				seen[cp] = true
				all = append(all, result{cp, true})
			}
			continue
		}
		all = append(all, result{k, false})
	}
	start := 0
	if tok := q.Get("continuation-token"); tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	end := min(start+pageSize, len(all))
	out := listResult{Name: "b", Prefix: prefix, MaxKeys: pageSize, ContinuationToken: q.Get("continuation-token")}
	for _, e := range all[start:end] {
		if e.dir {
			out.CommonPrefixes = append(out.CommonPrefixes, listPrefix{e.key})
			continue
		}
		o := objects[e.key]
		out.Contents = append(out.Contents, listObject{
			Key: e.key, LastModified: o.mod.Format("2006-01-02T15:04:05.000Z"), ETag: o.etag, Size: len(o.data),
		})
	}
	f.mu.Unlock()
	out.KeyCount = end - start
	if end < len(all) {
		out.IsTruncated = true
		out.NextContinuationToken = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(out)
}

// syncBuffer is a log sink safe for the SDK's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func genKey(t *testing.T) keysrc.Key {
	t.Helper()
	k, err := keysrc.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// isolateAWSEnv points the SDK at static test credentials and nothing else of the host.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDFAKE",
		"AWS_SECRET_ACCESS_KEY":       "fake-secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_CA_BUNDLE":               "",
	} {
		t.Setenv(k, v)
	}
}

// openFake opens bucket "b" on f with keys, current first. Every test's log is checked
// for key material at the end.
func openFake(t *testing.T, f *fakeS3, keys ...keysrc.Key) (*Bucket, *syncBuffer) {
	t.Helper()
	return openFakeWith(t, f, nil, keys...)
}

// openFakeWith is openFake with the Config changed by edit, if not nil.
func openFakeWith(t *testing.T, f *fakeS3, edit func(*Config), keys ...keysrc.Key) (*Bucket, *syncBuffer) {
	t.Helper()
	isolateAWSEnv(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ring, err := keysrc.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := Config{
		Bucket:         "b",
		Endpoint:       f.srv.URL,
		CABundle:       caFile,
		Keyring:        ring,
		MaxAttempts:    2,
		RequestTimeout: 30 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out := logs.String()
		for _, k := range keys {
			if strings.Contains(out, k.Base64()) {
				t.Errorf("log leaks key %s:\n%s", k.Fingerprint(), out)
			}
		}
	})
	return b, logs
}

// wantRequests compares requests as "METHOD key fingerprint" ("-" when unkeyed).
func wantRequests(t *testing.T, what string, got []s3Request, want ...string) {
	t.Helper()
	gs := make([]string, len(got))
	for i, r := range got {
		gs[i] = r.String()
	}
	if !slices.Equal(gs, want) {
		t.Errorf("%s: requests\n  %q\nwant\n  %q", what, gs, want)
	}
}

func TestReadWithTheOnlyKey(t *testing.T) {
	f := newFakeS3(t)
	k1 := genKey(t)
	fp1 := k1.Fingerprint()
	obj := f.put("dir/one", "0123456789abcdef", &k1, map[string]string{"Mode": "33188", "uid": "1000"})
	b, _ := openFake(t, f, k1)
	ctx := context.Background()

	got, err := b.ReadRange(ctx, "dir/one", obj.etag, 0, 16)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "0123456789abcdef" {
		t.Errorf("ReadRange = %q", got)
	}
	reqs := f.requests()
	wantRequests(t, "ReadRange", reqs, "GET dir/one "+fp1)
	if len(reqs) == 1 && (reqs[0].Range != "bytes=0-15" || reqs[0].IfMatch != obj.etag) {
		t.Errorf("GET sent Range %q If-Match %q; want bytes=0-15 and %s", reqs[0].Range, reqs[0].IfMatch, obj.etag)
	}

	got, err = b.ReadRange(ctx, "dir/one", obj.etag, 4, 3)
	if err != nil || string(got) != "456" {
		t.Errorf("ReadRange(4, 3) = %q, %v; want 456", got, err)
	}
	wantRequests(t, "second ReadRange", f.requests(), "GET dir/one "+fp1)

	info, err := b.Head(ctx, "dir/one")
	if err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "Head", f.requests(), "HEAD dir/one "+fp1)
	if info.Key != "dir/one" || info.Size != 16 || info.ETag != obj.etag || !info.Encrypted ||
		!info.LastModified.Equal(obj.mod) {
		t.Errorf("Head = %+v", info)
	}
	if info.Metadata["mode"] != "33188" || info.Metadata["uid"] != "1000" {
		t.Errorf("Head metadata = %v, want lower-cased mode and uid", info.Metadata)
	}

	// A ranged GET tells what the HEAD did, from its headers.
	page := make([]byte, 5)
	n, got2, err := b.ReadInto(ctx, "dir/one", obj.etag, 2, [][]byte{page})
	if err != nil || n != 5 || string(page) != "23456" {
		t.Fatalf("ReadInto = %d %q, %v", n, page, err)
	}
	wantRequests(t, "ReadInto", f.requests(), "GET dir/one "+fp1)
	if got2.Size != info.Size || got2.ETag != info.ETag || !got2.Encrypted || !got2.LastModified.Equal(info.LastModified) ||
		got2.Metadata["mode"] != "33188" || got2.Metadata["uid"] != "1000" {
		t.Errorf("ReadInto's info = %+v, want what Head said: %+v", got2, info)
	}
}

func TestReadTriesOlderKeysAndRemembers(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1, fp2 := k1.Fingerprint(), k2.Fingerprint()
	old := f.put("old", "written with the old key", &k2, nil)
	cur := f.put("current", "written with the current key", &k1, nil)
	b, _ := openFake(t, f, k1, k2)
	ctx := context.Background()

	got, err := b.ReadRange(ctx, "old", old.etag, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "written with the old key" {
		t.Errorf("ReadRange = %q", got)
	}
	wantRequests(t, "first read", f.requests(), "GET old "+fp1, "GET old "+fp2)

	if _, err := b.ReadRange(ctx, "old", old.etag, 0, 7); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "second read", f.requests(), "GET old "+fp2)

	// The memory is per object, shared by HEAD and GET.
	if info, err := b.Head(ctx, "old"); err != nil || info.ETag != old.etag {
		t.Fatalf("Head = %+v, %v", info, err)
	}
	wantRequests(t, "Head after read", f.requests(), "HEAD old "+fp2)

	// Objects under the current key still cost one request.
	if _, err := b.ReadRange(ctx, "current", cur.etag, 0, 5); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "current key", f.requests(), "GET current "+fp1)

	// A fresh object under the old key is not helped by another object's memory.
	other := f.put("old2", "x", &k2, nil)
	if _, err := b.ReadRange(ctx, "old2", other.etag, 0, 1); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "other old object", f.requests(), "GET old2 "+fp1, "GET old2 "+fp2)
}

func TestNoKeyOpensTheObject(t *testing.T) {
	f := newFakeS3(t)
	k1, k2, k3 := genKey(t), genKey(t), genKey(t)
	fp1, fp2 := k1.Fingerprint(), k2.Fingerprint()
	obj := f.put("foreign", "someone else's", &k3, nil)
	b, _ := openFake(t, f, k1, k2)
	ctx := context.Background()

	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("%s: err = %v, want ErrAccessDenied", what, err)
		}
		for _, kind := range []error{ErrNotFound, ErrChanged} {
			if errors.Is(err, kind) {
				t.Errorf("%s: err also matches %v", what, kind)
			}
		}
		var be *Error
		if !errors.As(err, &be) || !slices.Equal(be.Fingerprints, []string{fp1, fp2}) || be.Object != "foreign" {
			t.Errorf("%s: err = %#v, want an *Error naming both fingerprints", what, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, fp1) || !strings.Contains(msg, fp2) || !strings.Contains(msg, `"foreign"`) {
			t.Errorf("%s: %q does not name the object and both fingerprints", what, msg)
		}
		for _, k := range []keysrc.Key{k1, k2, k3} {
			if strings.Contains(msg, k.Base64()) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), k.Base64()) {
				t.Errorf("%s: error leaks key %s", what, k.Fingerprint())
			}
		}
	}

	_, err := b.ReadRange(ctx, "foreign", obj.etag, 0, 4)
	check("ReadRange", err)
	wantRequests(t, "ReadRange", f.requests(), "GET foreign "+fp1, "GET foreign "+fp2)
	if !strings.Contains(err.Error(), "GetObject") {
		t.Errorf("error %q does not name the operation", err)
	}

	_, err = b.Head(ctx, "foreign")
	check("Head", err)
	// Nothing was remembered from a failure: the current key goes first again.
	wantRequests(t, "Head", f.requests(), "HEAD foreign "+fp1, "HEAD foreign "+fp2)
}

func TestPlainObjectIsReadWithoutKey(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1 := k1.Fingerprint()
	plain := f.put("plain", "not encrypted", nil, nil)
	f.put("plain2", "not encrypted either", nil, nil)
	b, logs := openFake(t, f, k1, k2)
	ctx := context.Background()

	got, err := b.ReadRange(ctx, "plain", plain.etag, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "not encrypted" {
		t.Errorf("ReadRange = %q", got)
	}
	// Every key would get the same 400: after the first, go without one.
	wantRequests(t, "first read", f.requests(), "GET plain "+fp1, "GET plain -")

	if _, err := b.ReadRange(ctx, "plain", plain.etag, 0, 3); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "second read", f.requests(), "GET plain -")

	info, err := b.Head(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "Head of remembered plain", f.requests(), "HEAD plain -")
	if info.Encrypted || info.Size != int64(len("not encrypted")) {
		t.Errorf("Head = %+v, want Encrypted false", info)
	}

	// HEAD gets a bare 400 (no body, so no error code): also "not applicable".
	info, err = b.Head(ctx, "plain2")
	if err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "Head of fresh plain", f.requests(), "HEAD plain2 "+fp1, "HEAD plain2 -")
	if info.Encrypted {
		t.Errorf("Head(plain2).Encrypted = true")
	}

	if n := strings.Count(logs.String(), "not SSE-C encrypted"); n != 1 {
		t.Errorf("plain-object warning logged %d times, want once:\n%s", n, logs)
	}
}

func TestReplacedObjects(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1, fp2 := k1.Fingerprint(), k2.Fingerprint()
	b, _ := openFake(t, f, k1, k2)
	ctx := context.Background()

	t.Run("plain replaced by encrypted", func(t *testing.T) {
		o := f.put("p2e", "plain", nil, nil)
		if _, err := b.ReadRange(ctx, "p2e", o.etag, 0, 5); err != nil {
			t.Fatal(err)
		}
		f.requests()
		o = f.put("p2e", "now encrypted", &k2, nil)
		got, err := b.ReadRange(ctx, "p2e", o.etag, 0, 100)
		if err != nil || string(got) != "now encrypted" {
			t.Fatalf("ReadRange = %q, %v", got, err)
		}
		wantRequests(t, "after replacement", f.requests(), "GET p2e -", "GET p2e "+fp1, "GET p2e "+fp2)
		if _, err := b.ReadRange(ctx, "p2e", o.etag, 0, 3); err != nil {
			t.Fatal(err)
		}
		wantRequests(t, "then", f.requests(), "GET p2e "+fp2)
	})

	t.Run("old key replaced by plain", func(t *testing.T) {
		o := f.put("e2p", "encrypted", &k2, nil)
		if _, err := b.Head(ctx, "e2p"); err != nil {
			t.Fatal(err)
		}
		f.requests()
		o = f.put("e2p", "now plain", nil, nil)
		got, err := b.ReadRange(ctx, "e2p", o.etag, 0, 100)
		if err != nil || string(got) != "now plain" {
			t.Fatalf("ReadRange = %q, %v", got, err)
		}
		wantRequests(t, "after replacement", f.requests(), "GET e2p "+fp2, "GET e2p -")
	})

	t.Run("old key replaced by current key", func(t *testing.T) {
		f.put("e2e", "old", &k2, nil)
		if _, err := b.Head(ctx, "e2e"); err != nil {
			t.Fatal(err)
		}
		f.requests()
		f.put("e2e", "current", &k1, nil)
		if _, err := b.Head(ctx, "e2e"); err != nil {
			t.Fatal(err)
		}
		wantRequests(t, "after replacement", f.requests(), "HEAD e2e "+fp2, "HEAD e2e "+fp1)
		// The current key is tried first anyway: nothing is remembered for it.
		if _, err := b.Head(ctx, "e2e"); err != nil {
			t.Fatal(err)
		}
		wantRequests(t, "then", f.requests(), "HEAD e2e "+fp1)
		if b.keyOf.Contains("e2e") {
			t.Errorf("an object under the current key is still remembered")
		}
	})
}

func TestReadRangeChangedObject(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1, fp2 := k1.Fingerprint(), k2.Fingerprint()
	cur := f.put("cur", "version 2", &k1, nil)
	f.put("old", "version 2", &k2, nil)
	b, _ := openFake(t, f, k1, k2)
	ctx := context.Background()

	_, err := b.ReadRange(ctx, "cur", `"stale"`, 0, 4)
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
	if errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrNotFound) {
		t.Errorf("err %v matches another kind too", err)
	}
	reqs := f.requests()
	wantRequests(t, "stale read", reqs, "GET cur "+fp1)
	if len(reqs) == 1 && reqs[0].IfMatch != `"stale"` {
		t.Errorf("If-Match = %q, want the etag given", reqs[0].IfMatch)
	}

	// A 412 under the second key is still a change, not a denial.
	_, err = b.ReadRange(ctx, "old", `"stale"`, 0, 4)
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("old key: err = %v, want ErrChanged", err)
	}
	wantRequests(t, "stale read, old key", f.requests(), "GET old "+fp1, "GET old "+fp2)

	// No etag: no If-Match.
	if _, err := b.ReadRange(ctx, "cur", "", 0, 4); err != nil {
		t.Fatal(err)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].IfMatch != "" {
		t.Errorf("requests without an etag = %+v, want one without If-Match", reqs)
	}
	if got, err := b.ReadRange(ctx, "cur", cur.etag, 0, 4); err != nil || string(got) != "vers" {
		t.Errorf("ReadRange with the right etag = %q, %v", got, err)
	}
}

func TestMissingObject(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1 := k1.Fingerprint()
	b, _ := openFake(t, f, k1, k2)
	ctx := context.Background()

	_, err := b.Head(ctx, "missing")
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrAccessDenied) {
		t.Errorf("Head: err = %v, want ErrNotFound only", err)
	}
	// A 404 ends the search at once: no other key is tried.
	wantRequests(t, "Head", f.requests(), "HEAD missing "+fp1)

	_, err = b.ReadRange(ctx, "missing", `"e"`, 0, 10)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadRange: err = %v, want ErrNotFound", err)
	}
	wantRequests(t, "ReadRange", f.requests(), "GET missing "+fp1)
	if !strings.Contains(err.Error(), "NoSuchKey") || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("error text %q does not say NoSuchKey and name the object", err)
	}
}

func TestReadRangeShortAtEnd(t *testing.T) {
	f := newFakeS3(t)
	k1 := genKey(t)
	obj := f.put("ten", "0123456789", &k1, nil)
	b, _ := openFake(t, f, k1)
	ctx := context.Background()

	got, err := b.ReadRange(ctx, "ten", obj.etag, 6, 8)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "6789" {
		t.Errorf("ReadRange(6, 8) = %q, want 6789", got)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].Range != "bytes=6-13" {
		t.Errorf("requests = %+v, want one GET of bytes=6-13", reqs)
	}

	got, err = b.ReadRange(ctx, "ten", obj.etag, 0, 10)
	if err != nil || string(got) != "0123456789" {
		t.Errorf("ReadRange(0, 10) = %q, %v", got, err)
	}
	f.requests()

	got, err = b.ReadRange(ctx, "ten", obj.etag, 3, 0)
	if err != nil || len(got) != 0 {
		t.Errorf("ReadRange(3, 0) = %q, %v", got, err)
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("a zero-length read sent %d requests", len(reqs))
	}
}

func TestServerErrorsAreRetriedNotMistakenForDenial(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1 := k1.Fingerprint()
	obj := f.put("obj", "data", &k1, nil)
	b, _ := openFake(t, f, k1, k2)
	ctx := context.Background()

	var mu sync.Mutex
	failures := 1
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		if failures == 0 {
			return false
		}
		failures--
		s3Error(w, r, 500, "InternalError", "We encountered an internal error. Please try again.")
		return true
	}
	got, err := b.ReadRange(ctx, "obj", obj.etag, 0, 4)
	if err != nil || string(got) != "data" {
		t.Fatalf("ReadRange after one 500 = %q, %v", got, err)
	}
	wantRequests(t, "one 500", f.requests(), "GET obj "+fp1, "GET obj "+fp1)

	mu.Lock()
	failures = 100
	mu.Unlock()
	_, err = b.ReadRange(ctx, "obj", obj.etag, 0, 4)
	if err == nil {
		t.Fatal("no error with the server failing")
	}
	for _, kind := range []error{ErrAccessDenied, ErrNotFound, ErrChanged} {
		if errors.Is(err, kind) {
			t.Errorf("a 500 is reported as %v: %v", kind, err)
		}
	}
	// MaxAttempts 2, and no other key is tried for a server error.
	wantRequests(t, "all 500", f.requests(), "GET obj "+fp1, "GET obj "+fp1)
}

func TestListPage(t *testing.T) {
	f := newFakeS3(t)
	k1 := genKey(t)
	for _, k := range []string{"p/", "p/a", "p/b/1", "p/b/2", "p/c", "p/d/x", "p/e", "q"} {
		f.put(k, "x", &k1, nil)
	}
	f.listPage = 3
	b, _ := openFake(t, f, k1)
	ctx := context.Background()

	var got []string
	token := ""
	pages := 0
	for {
		entries, next, err := b.ListPage(ctx, "p/", token)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for i, e := range entries {
			if i > 0 && entries[i-1].Key >= e.Key {
				t.Errorf("page %d not in key order: %q before %q", pages, entries[i-1].Key, e.Key)
			}
			if e.Dir != strings.HasSuffix(e.Key, "/") {
				t.Errorf("entry %+v: Dir does not match the key", e)
			}
			if !e.Dir && (e.Size != 1 || e.ETag == "" || e.LastModified.IsZero()) {
				t.Errorf("object entry %+v lacks size, etag or time", e)
			}
			got = append(got, e.Key)
		}
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("listing does not end")
		}
		token = next
	}
	want := []string{"p/a", "p/b/", "p/c", "p/d/", "p/e"}
	if !slices.Equal(got, want) {
		t.Errorf("listing = %q, want %q (marker p/ left out)", got, want)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Errorf("%d list requests, want 2 (6 results, 3 a page)", len(reqs))
	}
	for _, r := range reqs {
		if r.Keyed {
			t.Errorf("listing request carries SSE-C headers: %+v", r)
		}
		if !strings.Contains(r.Query, "delimiter=%2F") {
			t.Errorf("listing request without delimiter /: %s", r.Query)
		}
	}

	if ok, err := b.PrefixExists(ctx, "p/b/"); err != nil || !ok {
		t.Errorf("PrefixExists(p/b/) = %v, %v", ok, err)
	}
	if ok, err := b.PrefixExists(ctx, "p/zz/"); err != nil || ok {
		t.Errorf("PrefixExists(p/zz/) = %v, %v", ok, err)
	}
	for _, r := range f.requests() {
		if r.Keyed {
			t.Errorf("PrefixExists request carries SSE-C headers: %+v", r)
		}
	}
}

func TestListPageRejectsStuckToken(t *testing.T) {
	f := newFakeS3(t)
	k1 := genKey(t)
	b, _ := openFake(t, f, k1)
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Type", "application/xml")
		w.Write([]byte(xml.Header))
		xml.NewEncoder(w).Encode(listResult{Name: "b", Prefix: "p/", IsTruncated: true, MaxKeys: 1000})
		return true
	}
	_, next, err := b.ListPage(context.Background(), "p/", "")
	if err == nil {
		t.Fatalf("truncated listing without a token accepted (next %q)", next)
	}
	if !strings.Contains(err.Error(), "continuation token") {
		t.Errorf("err = %v", err)
	}
}
