package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/keysrc"
)

// opLog names every S3 request the mount sends by its operation, in order, and checks
// with requestLog that each one that moves object data is keyed.
type opLog struct {
	requestLog
	mu  sync.Mutex
	ops []string // "PutObject dst/a", "UploadPart dst/b", ...
}

func (l *opLog) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodDelete {
			l.requestLog.note(req)
		}
		l.mu.Lock()
		l.ops = append(l.ops, s3Op(req))
		l.mu.Unlock()
		return next.RoundTrip(req)
	})
}

// s3Op is the S3 operation of a path-style request, and its object.
func s3Op(req *http.Request) string {
	_, object, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	q := req.URL.Query()
	op := req.Method
	switch {
	case object == "" && q.Has("list-type"):
		op = "ListObjectsV2"
	case object == "" && q.Has("uploads"):
		op = "ListMultipartUploads"
	case req.Method == http.MethodPut && q.Has("partNumber") && req.Header.Get("X-Amz-Copy-Source") != "":
		op = "UploadPartCopy"
	case req.Method == http.MethodPut && q.Has("partNumber"):
		op = "UploadPart"
	case req.Method == http.MethodPut && req.Header.Get("X-Amz-Copy-Source") != "":
		op = "CopyObject"
	case req.Method == http.MethodPut:
		op = "PutObject"
	case req.Method == http.MethodPost && q.Has("uploads"):
		op = "CreateMultipartUpload"
	case req.Method == http.MethodPost && q.Has("uploadId"):
		op = "CompleteMultipartUpload"
	case req.Method == http.MethodDelete && q.Has("uploadId"):
		op = "AbortMultipartUpload"
	case req.Method == http.MethodDelete:
		op = "DeleteObject"
	case req.Method == http.MethodHead:
		op = "HeadObject"
	case req.Method == http.MethodGet:
		op = "GetObject"
	}
	if object == "" {
		return op
	}
	return op + " " + object
}

func (l *opLog) reset() {
	l.requestLog.reset()
	l.mu.Lock()
	l.ops = nil
	l.mu.Unlock()
}

func (l *opLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

// count is how many requests of op (e.g. "UploadPart") were sent.
func (l *opLog) count(op string) int {
	n := 0
	for _, o := range l.snapshot() {
		if o == op || strings.HasPrefix(o, op+" ") {
			n++
		}
	}
	return n
}

// cp -r of a tree into a new directory of the mount sends what the files need and
// nothing else: a PutObject per file, and a marker per directory. Lookups of the new
// names, the creates, the writes, the closes and the releases cost no request: no
// HEAD or listing per file, no empty object before the content, no HEAD after a PUT,
// no metadata copy. Every object then holds its source's bytes, SSE-C encrypted.
func TestCopyTreeRequests(t *testing.T) {
	f := newFixture(t)
	src := filepath.Join(f.dir, "src")
	want := make(map[string][]byte)
	for i, size := range []int{0, 1, 100, 4 << 10, 64 << 10, 64<<10 + 1, 300 << 10, 1 << 20, 2<<20 + 5, 3 << 20} {
		name := fmt.Sprintf("f%02d", i)
		if i >= 8 {
			name = "sub/" + name
		}
		want[name] = randomBytes(size, uint64(100+i))
	}
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := keysrc.NewKeyring(f.key)
	if err != nil {
		t.Fatal(err)
	}
	var log opLog
	mp := f.mountInProcess(keys, log.wrap)
	if _, err := os.ReadDir(mp); err != nil { // the root's listing: "dst" is known not to exist
		t.Fatal(err)
	}
	log.reset()

	if out, err := exec.Command("cp", "-r", src, filepath.Join(mp, "dst")).CombinedOutput(); err != nil {
		t.Fatalf("cp -r: %v\n%s", err, out)
	}

	ops := log.snapshot()
	var wantOps []string
	for _, dir := range []string{"dst/", "dst/sub/"} {
		wantOps = append(wantOps, "PutObject "+dir)
	}
	for name := range want {
		wantOps = append(wantOps, "PutObject dst/"+name)
	}
	slices.Sort(wantOps)
	got := slices.Sorted(slices.Values(ops))
	t.Logf("cp -r of %d files in 2 directories: %d requests: %v", len(want), len(ops), ops)
	if !slices.Equal(got, wantOps) {
		t.Errorf("cp -r sent %d requests\n  %v\nwant %d, one PutObject per file and per directory:\n  %v", len(got), got, len(wantOps), wantOps)
	}
	if _, _, _, _, unkeyed := log.requestLog.snapshot(); len(unkeyed) != 0 {
		t.Errorf("%d data requests without SSE-C headers: %v", len(unkeyed), unkeyed)
	}

	for name, data := range want {
		if got, err := f.getObject("dst/" + name); err != nil || !bytes.Equal(got, data) {
			t.Errorf("dst/%s in S3 (keyed GET): %d bytes, %v; want the %d bytes of the source", name, len(got), err, len(data))
		}
		if err := f.getObjectWithoutKey("dst/" + name); err == nil {
			t.Errorf("dst/%s is readable without the key", name)
		}
		if st, err := os.Stat(filepath.Join(mp, "dst", name)); err != nil || st.Size() != int64(len(data)) {
			t.Errorf("stat dst/%s through the mount: %v, %v; want %d bytes", name, st, err, len(data))
		}
	}
}

// A new file written front to back starts uploading before it is closed, once the
// writer has passed S3's smallest part (5 MiB), whatever --part-size: the close of an
// 8 MiB file sends only the rest and completes. The object appears whole at close.
func TestFirstPartLeavesBeforeClose(t *testing.T) {
	f := newFixture(t)
	keys, err := keysrc.NewKeyring(f.key)
	if err != nil {
		t.Fatal(err)
	}
	var log opLog
	mp := f.mountInProcess(keys, log.wrap) // --part-size 8MiB, the default
	// The root's listing: "eight" is known not to exist.
	if _, err := os.ReadDir(mp); err != nil {
		t.Fatal(err)
	}
	log.reset()
	data := randomBytes(8<<20, 41)
	file, err := os.OpenFile(filepath.Join(mp, "eight"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for off := 0; off < 6<<20; off += 1 << 20 {
		if _, err := file.Write(data[off : off+1<<20]); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for log.count("UploadPart") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no part sent a minute after 6 MiB were written: %v", log.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := f.getObject("eight"); err == nil {
		t.Errorf("the object is visible (%d bytes) before close", len(got))
	}
	if _, err := file.Write(data[6<<20:]); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("requests: %v", log.snapshot())
	for op, n := range map[string]int{"CreateMultipartUpload": 1, "UploadPart": 2, "CompleteMultipartUpload": 1, "PutObject": 0, "HeadObject": 0} {
		if got := log.count(op); got != n {
			t.Errorf("%d %s; want %d", got, op, n)
		}
	}
	if got, err := f.getObject("eight"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the object after close: %d bytes, %v; want the 8 MiB written", len(got), err)
	}
	if ups := wpUploads(t, f, "eight"); len(ups) != 0 {
		t.Errorf("%d multipart uploads left open", len(ups))
	}
}

// A writer that goes back to the start of a file it wrote front to back, to fill in a
// header before closing (as zip and WAV writers do), succeeds although the first part
// already left: it is sent again at close, and the object holds every byte written.
func TestHeaderPatchedAfterFirstPartLeft(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()
	data := randomBytes(12<<20, 42)
	file, err := os.OpenFile(filepath.Join(mp, "archive"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := file.Write(data[off : off+1<<20]); err != nil {
			t.Fatal(err)
		}
	}
	header := []byte("RIFF\x00\x00\xc0\x00WAVE")
	if _, err := file.WriteAt(header, 0); err != nil {
		t.Fatalf("patching the header: %v", err)
	}
	if err := file.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	want := append(bytes.Clone(header), data[len(header):]...)
	wpCheckAll(t, f, mp, "archive", want)
}

// cp -a and tar x set a file's times, mode and owner before they close it, after the
// last write: the object holds them, whether the file was sent whole at close or
// streamed while it was written.
func TestCopyKeepsAttributes(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()
	src := filepath.Join(f.dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	sizes := map[string]int{"small": 1 << 20, "eight": 8 << 20, "twenty": 20 << 20}
	for name, size := range sizes {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, randomBytes(size, uint64(size)), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 1234, 5678); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ dir, cmd string }{
		{"cp", "cp -a " + src + "/. " + mp + "/cp/"},
		{"tar", "tar -C " + src + " -cf - . | tar -C " + mp + "/tar -xpf -"},
	} {
		if err := os.MkdirAll(filepath.Join(mp, c.dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-c", c.cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c.cmd, err, out)
		}
		for name := range sizes {
			meta, err := nsHead(f, c.dir+"/"+name, true)
			if err != nil {
				t.Errorf("%s/%s: %v", c.dir, name, err)
				continue
			}
			if whole, _, _ := strings.Cut(meta["mtime"], "."); whole != fmt.Sprint(mtime.Unix()) {
				t.Errorf("%s/%s: x-amz-meta-mtime %q; want %d", c.dir, name, meta["mtime"], mtime.Unix())
			}
			if want := fmt.Sprint(syscall.S_IFREG | 0o640); meta["mode"] != want {
				t.Errorf("%s/%s: x-amz-meta-mode %q; want %s", c.dir, name, meta["mode"], want)
			}
			if meta["uid"] != "1234" || meta["gid"] != "5678" {
				t.Errorf("%s/%s: x-amz-meta-uid %q, -gid %q; want 1234, 5678", c.dir, name, meta["uid"], meta["gid"])
			}
		}
	}
}
