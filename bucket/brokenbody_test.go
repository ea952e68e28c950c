package bucket

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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

// breakingBodies makes the fake answer each GET with at most every bytes of the asked
// range, then drop the connection, while breaks lasts; it records the ranges asked.
func breakingBodies(f *fakeS3, obj s3Object, k string, every int, breaks *int, ranges *[]string, ifMatch *[]string) {
	var mu sync.Mutex
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodGet {
			return false
		}
		*ranges = append(*ranges, r.Header.Get("Range"))
		*ifMatch = append(*ifMatch, r.Header.Get("If-Match"))
		if *breaks == 0 {
			return false
		}
		*breaks--
		var a, b int
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
		b = min(b, len(obj.data)-1)
		w.Header().Set("ETag", obj.etag)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(obj.data)))
		w.Header().Set("Content-Length", strconv.Itoa(b-a+1))
		w.Header().Set(hdrAlg, "AES256")
		w.Header().Set(hdrMD5, k)
		w.WriteHeader(206)
		w.Write(obj.data[a:min(a+every, b+1)])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
}

// A body that keeps breaking off, but brings new bytes each time, is resumed from the
// last byte received until it is whole, however many breaks that takes; each resumed
// GET asks only for the rest, pinned to the same version.
func TestReadRangeResumesFromTheLastByte(t *testing.T) {
	f := newFakeS3(t)
	k1 := genKey(t)
	data := strings.Repeat("0123456789abcdefghij", 50) // 1000 bytes
	obj := f.put("big", data, &k1, nil)
	b, _ := openFake(t, f, k1) // MaxAttempts 2: far fewer than the breaks
	breaks := 20
	var ranges, ifMatch []string
	breakingBodies(f, obj, k1.Fingerprint(), 37, &breaks, &ranges, &ifMatch)
	got, err := b.ReadRange(context.Background(), "big", "", 100, 800)
	if err != nil || string(got) != data[100:900] {
		t.Fatalf("ReadRange = %d bytes, %v; want bytes 100-899 exactly", len(got), err)
	}
	if len(ranges) != 21 || ranges[0] != "bytes=100-899" || ranges[1] != "bytes=137-899" || ranges[20] != "bytes=840-899" {
		t.Errorf("ranges asked: %q", ranges)
	}
	// The first GET was not pinned (etag ""); every resumed one is pinned to its version.
	for i, m := range ifMatch[1:] {
		if m != obj.etag {
			t.Errorf("resumed GET %d has If-Match %q, want %q", i+1, m, obj.etag)
		}
	}
}

// Tries that bring nothing give up after MaxAttempts in a row, with an error, never a
// short result.
func TestReadRangeGivesUpWithoutProgress(t *testing.T) {
	f := newFakeS3(t)
	k1 := genKey(t)
	obj := f.put("big", strings.Repeat("x", 100), &k1, nil)
	b, _ := openFake(t, f, k1)
	breaks := 1000
	var ranges, ifMatch []string
	breakingBodies(f, obj, k1.Fingerprint(), 0, &breaks, &ranges, &ifMatch)
	start := time.Now()
	got, err := b.ReadRange(context.Background(), "big", obj.etag, 0, 100)
	if err == nil || got != nil {
		t.Fatalf("ReadRange = %d bytes, %v; want an error", len(got), err)
	}
	if len(ranges) != 2 {
		t.Errorf("%d GETs, want 2 (MaxAttempts)", len(ranges))
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("gave up after %v: no backoff between tries", d)
	}
}

// ReadInto fills several buffers from one GET, and a body that breaks off mid-buffer
// is resumed into the rest of that buffer and the ones after it; the object's end
// inside the buffers is a short count, not an error.
func TestReadIntoResumesAcrossBuffers(t *testing.T) {
	f := newFakeS3(t)
	k1 := genKey(t)
	data := strings.Repeat("0123456789abcdefghij", 50) // 1000 bytes
	obj := f.put("big", data, &k1, nil)
	b, _ := openFake(t, f, k1)
	breaks := 6
	var ranges, ifMatch []string
	breakingBodies(f, obj, k1.Fingerprint(), 45, &breaks, &ranges, &ifMatch)
	bufs := [][]byte{make([]byte, 100), make([]byte, 100), make([]byte, 100), make([]byte, 100)}
	n, info, err := b.ReadInto(context.Background(), "big", obj.etag, 700, bufs)
	if err != nil || n != 300 {
		t.Fatalf("ReadInto = %d, %v; want 300 (the object ends inside the third buffer), nil", n, err)
	}
	// What a HEAD would say, from the first answer's headers.
	if info.Size != 1000 || info.ETag != obj.etag || !info.Encrypted || info.Key != "big" {
		t.Errorf("ReadInto's object info = %+v; want size 1000, ETag %s, encrypted", info, obj.etag)
	}
	if got := string(bufs[0]) + string(bufs[1]) + string(bufs[2]); got != data[700:] {
		t.Errorf("buffers hold %q, want %q", got, data[700:])
	}
	if len(ranges) != 7 || ranges[0] != "bytes=700-1099" || ranges[1] != "bytes=745-1099" {
		t.Errorf("ranges asked: %q", ranges)
	}
	for i, m := range ifMatch {
		if m != obj.etag {
			t.Errorf("GET %d has If-Match %q, want %q", i, m, obj.etag)
		}
	}
}
