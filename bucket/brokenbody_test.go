package bucket

import (
	"context"
	"net/http"
	"sync"
	"testing"
)

// A body that breaks off mid-transfer is retried, not taken for the end of the object.
func TestReadRangeRetriesBrokenBody(t *testing.T) {
	f := newFakeS3(t)
	k1 := genKey(t)
	obj := f.put("big", "0123456789abcdefghij", &k1, nil)
	b, _ := openFake(t, f, k1)
	var mu sync.Mutex
	broken := false
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodGet || broken {
			return false
		}
		broken = true
		w.Header().Set("ETag", obj.etag)
		w.Header().Set("Content-Range", "bytes 0-19/20")
		w.Header().Set("Content-Length", "20")
		w.Header().Set(hdrAlg, "AES256")
		w.Header().Set(hdrMD5, k1.Fingerprint())
		w.WriteHeader(206)
		w.Write([]byte("0123456789")) // half the body, then the connection drops
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	got, err := b.ReadRange(context.Background(), "big", obj.etag, 0, 20)
	if err != nil || string(got) != "0123456789abcdefghij" {
		t.Fatalf("ReadRange = %q (%d bytes), %v: want the whole range after a retry", got, len(got), err)
	}
	if reqs := f.requests(); len(reqs) != 2 {
		t.Errorf("%d GETs, want 2 (the broken one retried)", len(reqs))
	}
}
