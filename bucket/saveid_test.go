package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
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
