package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssecfs/ssecfs/keysrc"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu  sync.Mutex
	evs []RequestEvent
}

func (r *recorder) ObserveRequest(e RequestEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

// take returns the events since the last call, and forgets them.
func (r *recorder) take() []RequestEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.evs
	r.evs = nil
	return e
}

// brief renders an event as "Op object key outcome status" ("-" for no key); a copy
// adds "<source sourcekey", an older key "older", a caller "pid=N".
func brief(e RequestEvent) string {
	fp := e.KeyFingerprint
	if fp == "" {
		fp = "-"
	}
	s := fmt.Sprintf("%s %s %s %s %d", e.Op, e.Object, fp, e.Outcome, e.Status)
	if e.Source != "" {
		s += fmt.Sprintf(" <%s %s", e.Source, e.SourceKeyFingerprint)
	}
	if e.KeyFallback {
		s += " older"
	}
	if e.Caller != nil {
		s += fmt.Sprintf(" pid=%d", e.Caller.PID)
	}
	return s
}

func wantEvents(t *testing.T, what string, got []RequestEvent, want ...string) {
	t.Helper()
	gs := make([]string, len(got))
	for i, e := range got {
		gs[i] = brief(e)
	}
	if !slices.Equal(gs, want) {
		t.Errorf("%s: events\n  %q\nwant\n  %q", what, gs, want)
	}
}

// noKeys fails if any event, printed in full, holds one of keys.
func noKeys(t *testing.T, evs []RequestEvent, keys ...keysrc.Key) {
	t.Helper()
	text := fmt.Sprintf("%+v %#v", evs, evs)
	for _, k := range keys {
		if strings.Contains(text, k.Base64()) {
			t.Errorf("events hold key %s", k.Fingerprint())
		}
	}
}

type testCallerKey struct{}

// openObserved opens the fake with rec as the observer, and a CallerOf that finds a
// caller put in the context under testCallerKey.
func openObserved(t *testing.T, f *fakeS3, rec Observer, keys ...keysrc.Key) *Bucket {
	t.Helper()
	b, _ := openFakeWith(t, f, func(c *Config) {
		c.Observer = rec
		c.CallerOf = func(ctx context.Context) (Caller, bool) {
			c, ok := ctx.Value(testCallerKey{}).(Caller)
			return c, ok
		}
	}, keys...)
	return b
}

// Every request is one event, after the fact: the tries of each key, the plain read
// of an object that is not SSE-C encrypted, listings, failures.
func TestObserverSeesEveryRequest(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1, fp2 := k1.Fingerprint(), k2.Fingerprint()
	old := f.put("dir/old", "written with the old key", &k2, nil)
	f.put("dir/plain", "not encrypted", nil, nil)
	rec := &recorder{}
	b := openObserved(t, f, rec, k1, k2)

	ctx := WithCaller(context.Background(), Caller{UID: 1000, GID: 100, PID: 7})
	if _, err := b.ReadRange(ctx, "dir/old", old.etag, 0, 100); err != nil {
		t.Fatal(err)
	}
	evs := rec.take()
	wantEvents(t, "read under the old key", evs,
		"GetObject dir/old "+fp1+" access_denied 403 pid=7",
		"GetObject dir/old "+fp2+" ok 206 older pid=7")
	if got := evs[1]; got.BytesIn != int64(len("written with the old key")) || got.BytesOut != 0 ||
		got.Retries != 0 || got.Duration <= 0 || got.Start.IsZero() || *got.Caller != (Caller{1000, 100, 7}) {
		t.Errorf("GET event = %+v", got)
	}
	if evs[0].BytesIn != 0 {
		t.Errorf("refused GET counts %d bytes", evs[0].BytesIn)
	}

	// Without WithCaller, Config.CallerOf is asked; without either, no caller.
	if _, err := b.Head(context.Background(), "dir/plain"); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "plain object", rec.take(),
		"HeadObject dir/plain "+fp1+" client_error 400",
		"HeadObject dir/plain - ok 200")
	fromFuse := context.WithValue(context.Background(), testCallerKey{}, Caller{UID: 5, PID: 55})
	if _, _, err := b.ListPage(fromFuse, "dir/", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Head(fromFuse, "dir/missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Head of a missing object: %v", err)
	}
	evs = rec.take()
	wantEvents(t, "listing and a missing object", evs,
		"ListObjectsV2 dir/ - ok 200 pid=55",
		"HeadObject dir/missing "+fp1+" not_found 404 pid=55")
	noKeys(t, evs, k1, k2)

	if n := len(f.requests()); n != 6 {
		t.Errorf("the server saw %d requests, the observer 6", n)
	}
}

// fakeMultipart serves multipart uploads (begin, parts, complete, abort) and deletes.
func fakeMultipart(f *fakeS3) {
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		q := r.URL.Query()
		key := strings.TrimPrefix(r.URL.Path, "/b/")
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><UploadId>up%d</UploadId></InitiateMultipartUploadResult>`, key, n)
		case r.Method == http.MethodPut && q.Has("uploadId"):
			io.Copy(io.Discard, r.Body)
			w.Header().Set("ETag", fmt.Sprintf(`"part-%d"`, n))
		case r.Method == http.MethodPost && q.Has("uploadId"):
			fmt.Fprintf(w, `<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><ETag>"done"</ETag></CompleteMultipartUploadResult>`, key)
		case r.Method == http.MethodPut:
			f.storePut(w, r, false)
		case r.Method == http.MethodDelete:
			w.WriteHeader(204)
		default:
			return false
		}
		return true
	}
}

// Writes carry the current key and count the bytes they send; deletes and aborts
// carry none.
func TestObserverCountsWrites(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1 := k1.Fingerprint()
	fakeMultipart(f)
	rec := &recorder{}
	b := openObserved(t, f, rec, k1, k2)
	ctx := context.Background()

	if _, err := b.Put(ctx, "small", []byte("twelve bytes"), nil, Condition{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	up, err := b.StartUpload(ctx, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.PutPartPages(ctx, 1, [][]byte{[]byte("abc"), []byte("defg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Complete(ctx, Condition{}); err != nil {
		t.Fatal(err)
	}
	other, err := b.StartUpload(ctx, "gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "small"); err != nil {
		t.Fatal(err)
	}
	evs := rec.take()
	wantEvents(t, "writes", evs,
		"PutObject small "+fp1+" ok 200",
		"CreateMultipartUpload big "+fp1+" ok 200",
		"UploadPart big "+fp1+" ok 200",
		"CompleteMultipartUpload big "+fp1+" ok 200",
		"CreateMultipartUpload gone "+fp1+" ok 200",
		"AbortMultipartUpload gone - ok 204",
		"DeleteObject small - ok 204")
	var sent []int64
	for _, e := range evs {
		sent = append(sent, e.BytesOut)
		if e.BytesIn != 0 {
			t.Errorf("%s: %d bytes in", e.Op, e.BytesIn)
		}
	}
	if !slices.Equal(sent, []int64{12, 0, 7, 0, 0, 0, 0}) {
		t.Errorf("bytes sent %v, want 12 for the PUT and 7 for the part", sent)
	}
	noKeys(t, evs, k1, k2)
}

// A copy names its source and both keys; an older key opening the source is a fallback.
func TestObserverSeesCopies(t *testing.T) {
	f := newFakeS3(t)
	k1, k2 := genKey(t), genKey(t)
	fp1, fp2 := k1.Fingerprint(), k2.Fingerprint()
	c := &fakeCopies{f: f}
	f.hook = c.hook
	src := f.put("src", "under the old key", &k2, nil)
	rec := &recorder{}
	b := openObserved(t, f, rec, k1, k2)
	if _, err := b.Copy(context.Background(), "src", src.etag, int64(len(src.data)), "dst", nil, Condition{}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "copy", rec.take(),
		"CopyObject dst "+fp1+" access_denied 403 <src "+fp1,
		"CopyObject dst "+fp1+" ok 200 <src "+fp2+" older")
	if _, err := b.Reencrypt(context.Background(), "dst", "", int64(len(src.data))); err != nil {
		t.Fatal(err)
	}
	// dst is under the current key now: no fallback.
	wantEvents(t, "reencrypt", rec.take(),
		"HeadObject dst "+fp1+" ok 200",
		"CopyObject dst "+fp1+" ok 200 <dst "+fp1)
}

// Retries are inside one event; a GET is reported when its body is closed, with the
// bytes read, and one that broke off says so.
func TestObserverRetriesAndBrokenBodies(t *testing.T) {
	f := newFakeS3(t)
	k := genKey(t)
	fp := k.Fingerprint()
	obj := f.put("o", "0123456789abcdefghij", &k, nil)
	rec := &recorder{}
	b := openObserved(t, f, rec, k)
	var mu sync.Mutex
	step := 0
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		step++
		switch step {
		case 1: // a 503, retried by the SDK
			s3Error(w, r, 503, "SlowDown", "Please reduce your request rate.")
			return true
		case 2: // half the body, then the connection drops
			w.Header().Set("ETag", obj.etag)
			w.Header().Set("Content-Range", "bytes 0-19/20")
			w.Header().Set("Content-Length", "20")
			w.Header().Set(hdrAlg, "AES256")
			w.Header().Set(hdrMD5, fp)
			w.WriteHeader(206)
			w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		return false
	}
	got, err := b.ReadRange(context.Background(), "o", obj.etag, 0, 20)
	if err != nil || string(got) != "0123456789abcdefghij" {
		t.Fatalf("ReadRange = %q, %v", got, err)
	}
	evs := rec.take()
	wantEvents(t, "retried, broken, resumed", evs,
		"GetObject o "+fp+" network_error 206",
		"GetObject o "+fp+" ok 206")
	if len(evs) == 2 {
		if evs[0].Retries != 1 || evs[0].BytesIn != 10 || evs[1].Retries != 0 || evs[1].BytesIn != 10 {
			t.Errorf("retries %d, %d and bytes %d, %d: want 1, 0 and 10, 10",
				evs[0].Retries, evs[1].Retries, evs[0].BytesIn, evs[1].BytesIn)
		}
	}

	// A server that stays away: one event, after every try.
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		s3Error(w, r, 500, "InternalError", "We encountered an internal error.")
		return true
	}
	if _, err := b.Head(context.Background(), "o"); err == nil {
		t.Fatal("Head succeeded against a failing server")
	}
	evs = rec.take()
	wantEvents(t, "server error", evs, "HeadObject o "+fp+" server_error 500")
	if len(evs) == 1 && evs[0].Retries != 1 {
		t.Errorf("retries = %d, want 1 (MaxAttempts 2)", evs[0].Retries)
	}
}

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, OutcomeOK},
		{sdkError(opGet, 404, "NoSuchKey", ""), OutcomeNotFound},
		{sdkError(opGet, 403, "AccessDenied", ""), OutcomeAccessDenied},
		{sdkError(opPut, 412, "PreconditionFailed", ""), OutcomeChanged},
		{sdkError(opPartCopy, 501, "NotImplemented", ""), OutcomeNotImplemented},
		{sdkError(opGet, 416, "InvalidRange", ""), OutcomeClientError},
		{sdkError(opGet, 503, "SlowDown", ""), OutcomeServerError},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), OutcomeTimeout},
		{context.Canceled, OutcomeCanceled},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, OutcomeNetworkError},
	} {
		if got := Outcome(c.err); got != c.want {
			t.Errorf("Outcome(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestObservers(t *testing.T) {
	if Observers() != nil || Observers(nil, nil) != nil {
		t.Error("Observers of nothing is not nil")
	}
	a := &recorder{}
	if Observers(nil, a) != Observer(a) {
		t.Error("Observers of one is not that one")
	}
	var order []string
	first := ObserverFunc(func(RequestEvent) { order = append(order, "first") })
	second := ObserverFunc(func(RequestEvent) { order = append(order, "second") })
	Observers(first, nil, second).ObserveRequest(RequestEvent{Op: "GetObject"})
	if !slices.Equal(order, []string{"first", "second"}) {
		t.Errorf("called %v", order)
	}
}

// The debug log of requests names the operation, object, outcome and key fingerprint,
// never the key; above debug level it logs nothing.
func TestLogRequests(t *testing.T) {
	f := newFakeS3(t)
	k := genKey(t)
	obj := f.put("dir/file", "some data", &k, nil)
	logs := &syncBuffer{}
	debug := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	quiet := &syncBuffer{}
	info := slog.New(slog.NewTextHandler(quiet, nil))
	b := openObserved(t, f, Observers(LogRequests(debug), LogRequests(info), LogRequests(nil)), k)
	ctx := WithCaller(context.Background(), Caller{UID: 1000, PID: 4242})
	if _, err := b.ReadRange(ctx, "dir/file", obj.etag, 0, 9); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"s3 request", "op=GetObject", "object=dir/file", "status=206", "outcome=ok",
		"bytes_in=9", "retries=0", `key="` + k.Fingerprint() + `"`, "uid=1000", "pid=4242", "duration="} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, k.Base64()) || strings.Contains(out, "some data") {
		t.Errorf("debug log holds the key or the data:\n%s", out)
	}
	if quiet.String() != "" {
		t.Errorf("info-level log got %q", quiet.String())
	}
}
