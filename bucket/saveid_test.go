package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// storePut makes the fake store a PUT as S3 would (honouring If-None-Match and
// If-Match), then answers it, or, when lose is true, drops the connection without an
// answer: the server stored the object, the client never heard.
func (f *fakeS3) storePut(w http.ResponseWriter, r *http.Request, lose bool) {
	key := strings.TrimPrefix(r.URL.Path, "/b/")
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	old, exists := f.objects[key]
	switch {
	case r.Header.Get("If-None-Match") == "*" && exists,
		r.Header.Get("If-Match") != "" && (!exists || old.etag != r.Header.Get("If-Match")):
		f.mu.Unlock()
		s3Error(w, r, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
		return
	}
	meta := make(map[string]string)
	for k, v := range r.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
			meta[name] = v[0]
		}
	}
	o := s3Object{data: body, etag: fmt.Sprintf(`"put-%d"`, len(f.reqs)), fp: r.Header.Get(hdrMD5), meta: meta, mod: time.Now()}
	f.objects[key] = o
	f.mu.Unlock()
	if lose {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Header().Set("ETag", o.etag)
	w.WriteHeader(200)
}

// A PUT whose answer is lost is retried by the SDK; the retry of a conditional write
// then gets 412 from our own object. That is a success, not a conflict.
func TestLostAnswerToAConditionalPutIsASuccess(t *testing.T) {
	f := newFakeS3(t)
	k := genKey(t)
	puts := 0
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method != http.MethodPut {
			return false
		}
		puts++
		f.storePut(w, r, puts == 1)
		return true
	}
	b, logs := openFake(t, f, k)
	for _, cond := range []Condition{{IfNoneMatch: true}, {}} {
		puts = 0
		name := fmt.Sprintf("new-%v", cond.IfNoneMatch)
		etag, err := b.Put(context.Background(), name, []byte("ours"), map[string]string{"mode": "33188"}, cond)
		if err != nil {
			t.Fatalf("%+v: Put whose answer was lost = %v; want success\n%s", cond, err, logs)
		}
		f.mu.Lock()
		o := f.objects[name]
		f.mu.Unlock()
		if etag != o.etag || string(o.data) != "ours" || o.meta["mode"] != "33188" || o.meta[SaveIDMeta] == "" {
			t.Errorf("%+v: etag %s, object %+v", cond, etag, o)
		}
	}

	// Replacing, If-Match the old version: the lost answer's retry gets 412 too.
	puts = 0
	f.mu.Lock()
	old := f.objects["new-true"].etag
	f.mu.Unlock()
	if _, err := b.Put(context.Background(), "new-true", []byte("v2"), nil, Condition{IfMatch: old}); err != nil {
		t.Fatalf("If-Match Put whose answer was lost = %v; want success", err)
	}
}

// Another writer's object (without our save identifier) is a real conflict.
func TestAnotherWritersObjectIsAConflict(t *testing.T) {
	f := newFakeS3(t)
	k := genKey(t)
	f.put("taken", "theirs", &k, map[string]string{SaveIDMeta: "someone-else"})
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method != http.MethodPut {
			return false
		}
		f.storePut(w, r, false)
		return true
	}
	b, _ := openFake(t, f, k)
	_, err := b.Put(context.Background(), "taken", []byte("ours"), nil, Condition{IfNoneMatch: true})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Put over another writer's object = %v; want ErrChanged", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if string(f.objects["taken"].data) != "theirs" {
		t.Errorf("the other writer's object was replaced")
	}
}

// Every PUT carries a new save identifier: two saves never share one.
func TestEveryPutCarriesItsOwnSaveID(t *testing.T) {
	f := newFakeS3(t)
	k := genKey(t)
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method != http.MethodPut {
			return false
		}
		f.storePut(w, r, false)
		return true
	}
	b, _ := openFake(t, f, k)
	meta := map[string]string{"mode": "1"}
	seen := map[string]bool{}
	for i := range 5 {
		if _, err := b.Put(context.Background(), fmt.Sprintf("o%d", i), nil, meta, Condition{}); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		id := f.objects[fmt.Sprintf("o%d", i)].meta[SaveIDMeta]
		f.mu.Unlock()
		if id == "" || seen[id] {
			t.Fatalf("save id %q empty or repeated", id)
		}
		seen[id] = true
	}
	if _, ok := meta[SaveIDMeta]; ok {
		t.Error("Put changed the caller's metadata map")
	}
}

// fakeUploads serves CreateMultipartUpload (losing the answer to the first lose
// attempts, after the upload was begun), ListMultipartUploads and AbortMultipartUpload.
type fakeUploads struct {
	mu      sync.Mutex
	uploads map[string]string // id -> key
	began   map[string]time.Time
	lose    int
	n       int
}

func (u *fakeUploads) hook(w http.ResponseWriter, r *http.Request, _ int) bool {
	q := r.URL.Query()
	key := strings.TrimPrefix(r.URL.Path, "/b/")
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		u.n++
		id := fmt.Sprintf("up%d", u.n)
		u.uploads[id], u.began[id] = key, time.Now()
		if u.lose > 0 {
			u.lose--
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return true
		}
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>`, key, id)
	case r.Method == http.MethodGet && q.Has("uploads"):
		var b strings.Builder
		b.WriteString(`<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>false</IsTruncated>`)
		for id, k := range u.uploads {
			if strings.HasPrefix(k, q.Get("prefix")) {
				fmt.Fprintf(&b, `<Upload><Key>%s</Key><UploadId>%s</UploadId><Initiated>%s</Initiated></Upload>`,
					k, id, u.began[id].UTC().Format("2006-01-02T15:04:05.000Z"))
			}
		}
		b.WriteString(`</ListMultipartUploadsResult>`)
		w.Write([]byte(b.String()))
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		delete(u.uploads, q.Get("uploadId"))
		w.WriteHeader(204)
	default:
		return false
	}
	return true
}

func (u *fakeUploads) open() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var ids []string
	for id := range u.uploads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// When the answer to CreateMultipartUpload is lost, the SDK's retry begins a second
// upload; the first, whose ID we never learned, is aborted rather than left open. Other
// uploads (another key, or begun long before) are left alone.
func TestUploadsBegunByLostAttemptsAreAborted(t *testing.T) {
	f := newFakeS3(t)
	k := genKey(t)
	ups := &fakeUploads{uploads: map[string]string{"theirs": "obj", "other-key": "obj2"},
		began: map[string]time.Time{"theirs": time.Now().Add(-time.Hour), "other-key": time.Now()}, lose: 1}
	f.hook = ups.hook
	b, _ := openFake(t, f, k)
	u, err := b.StartUpload(context.Background(), "obj", nil)
	if err != nil {
		t.Fatalf("StartUpload after a lost answer: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := ups.open()
		want := []string{"other-key", u.id, "theirs"}
		sort.Strings(want)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("open uploads %v; want %v (the one begun by the lost attempt aborted)", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
