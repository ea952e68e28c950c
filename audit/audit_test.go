package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

// lines reads the JSON lines of path.
func lines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestOpenMakesThe0600File(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if m := mode(t, path); m != 0o600 {
		t.Errorf("new log has mode %o, want 600", m)
	}
	loose := filepath.Join(dir, "loose.log")
	if err := os.WriteFile(loose, []byte("{\"earlier\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(loose)
	if err != nil {
		t.Fatal(err)
	}
	l2.Event(KindMount, nil)
	l2.Close()
	if m := mode(t, loose); m != 0o600 {
		t.Errorf("existing log has mode %o, want 600", m)
	}
	if got := lines(t, loose); len(got) != 2 || got[0]["earlier"] != 1.0 {
		t.Errorf("existing log not appended to: %v", got)
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open of a directory succeeded")
	}
}

// Requests with a key make one line each, with the fields the README shows; requests
// without one are not key usage.
func TestRequestLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 5, 6, 7, 8, 9, 123000000, time.UTC)
	l.ObserveRequest(bucket.RequestEvent{Op: "GetObject", Object: "docs/a.txt", Outcome: "ok", Status: 206,
		BytesIn: 4096, Start: start, Duration: 1500 * time.Microsecond, KeyFingerprint: "FP1",
		Caller: &bucket.Caller{UID: 1000, GID: 100, PID: 4242}})
	l.ObserveRequest(bucket.RequestEvent{Op: "ListObjectsV2", Object: "docs/", Outcome: "ok", Status: 200, Start: start})
	l.ObserveRequest(bucket.RequestEvent{Op: "CopyObject", Object: "docs/b", Source: "docs/a.txt", Outcome: "access_denied",
		Status: 403, Start: start, KeyFingerprint: "FP1", SourceKeyFingerprint: "FP2", KeyFallback: true, Retries: 1})
	l.Close()
	got := lines(t, path)
	if len(got) != 2 {
		t.Fatalf("%d lines, want 2 (the listing carries no key): %v", len(got), got)
	}
	raw, _ := os.ReadFile(path)
	first := strings.SplitN(string(raw), "\n", 2)[0]
	want := `{"time":"2026-05-06T07:08:09.123Z","event":"request","op":"GetObject","object":"docs/a.txt","key":"FP1",` +
		`"bytes":4096,"outcome":"ok","status":206,"duration_ms":1.5,"uid":1000,"pid":4242}`
	if first != want {
		t.Errorf("line\n  %s\nwant\n  %s", first, want)
	}
	c := got[1]
	if c["source"] != "docs/a.txt" || c["source_key"] != "FP2" || c["older_key"] != true || c["outcome"] != "access_denied" ||
		c["uid"] != -1.0 || c["pid"] != -1.0 || c["retries"] != 1.0 {
		t.Errorf("copy line %v", c)
	}
}

func TestEventLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	l.Event(KindMount, map[string]any{"bucket": "b", "mountpoint": "/mnt", "keys": []string{"FP1", "FP2"}, "time": "not this", "event": "nor this"})
	l.Event(KindUnmount, nil)
	l.Event(KindCheck, map[string]any{"bad": make(chan int)})
	var errs []error
	l.OnError(func(err error) { errs = append(errs, err) })
	l.Event(KindCheck, map[string]any{"bad": make(chan int)})
	l.Close()
	raw, _ := os.ReadFile(path)
	text := strings.Split(strings.TrimSpace(string(raw)), "\n")
	want := []string{
		`{"time":"2026-01-02T03:04:05Z","event":"mount","bucket":"b","keys":["FP1","FP2"],"mountpoint":"/mnt"}`,
		`{"time":"2026-01-02T03:04:05Z","event":"unmount"}`,
	}
	if len(text) != 4 || text[0] != want[0] || text[1] != want[1] || !strings.Contains(text[2], `"event":"check","fields_error":`) {
		t.Errorf("lines\n%s\nwant\n%s\nand two check lines with fields_error", strings.Join(text, "\n"), strings.Join(want, "\n"))
	}
	if len(errs) != 1 {
		t.Errorf("OnError told %v, want one error", errs)
	}
	l.Event(KindUnmount, nil) // after Close: dropped, and said (once more: a line was written since)
	if len(errs) != 2 || !errors.Is(errs[1], os.ErrClosed) {
		t.Errorf("after Close: %v", errs)
	}
	var none *Log
	none.Event(KindMount, nil)
	none.ObserveRequest(bucket.RequestEvent{KeyFingerprint: "x"})
	if none.Reopen() != nil || none.Close() != nil {
		t.Error("a nil Log fails")
	}
}

// After logrotate moves the file, Reopen writes to a new one at the path; concurrent
// writers never mix lines.
func TestReopenAndConcurrency(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	const writers, each = 8, 200
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				l.ObserveRequest(bucket.RequestEvent{Op: "GetObject", Object: fmt.Sprintf("w%d/%d", w, i), KeyFingerprint: "FP", Outcome: "ok"})
				if i == each/2 && w == 0 {
					if err := os.Rename(path, path+".1"); err != nil {
						t.Error(err)
					}
					if err := l.Reopen(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	before, after := lines(t, path+".1"), lines(t, path)
	if len(before)+len(after) != writers*each || len(after) == 0 {
		t.Errorf("%d lines before the rotation and %d after, want %d in all", len(before), len(after), writers*each)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("reopened log has mode %o", m)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Error("Reopen onto a directory succeeded")
	}
	l.Event(KindUnmount, nil) // still goes to the old file
	if got := lines(t, path+".1"); len(got) != len(before) {
		t.Errorf("the rotated file got lines after the rotation")
	}
}

// isolateAWSEnv points the SDK at static test credentials and nothing else of the host.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDFAKE", "AWS_SECRET_ACCESS_KEY": "fake-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "", "AWS_CA_BUNDLE": "",
	} {
		t.Setenv(k, v)
	}
}

// fakeS3 answers ranged GETs, HEADs, PUTs and listings of bucket "b", whatever the key.
func fakeS3(t *testing.T, data []byte) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("ETag", `"v1"`)
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
			h.Set("Content-Type", "application/xml")
			fmt.Fprint(w, `<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated></ListBucketResult>`)
		case r.Method == http.MethodGet:
			var a, b int
			fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
			b = min(b, len(data)-1)
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(data)))
			h.Set("Content-Length", fmt.Sprint(b-a+1))
			w.WriteHeader(206)
			w.Write(data[a : b+1])
		case r.Method == http.MethodHead:
			h.Set("Content-Length", fmt.Sprint(len(data)))
		case r.Method == http.MethodPut:
			io.Copy(io.Discard, r.Body)
		default:
			w.WriteHeader(405)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Through a real bucket, every keyed request is in the log with its key's fingerprint,
// and the key is nowhere in the file: not in base64, not in hex, not raw.
func TestTheKeyIsNeverWritten(t *testing.T) {
	isolateAWSEnv(t)
	raw := bytes.Repeat([]byte{0xA5, 0x3C, 0x7E, 0x01}, 8)
	key, err := keysrc.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	older, err := keysrc.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keysrc.NewKeyring(key, older)
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeS3(t, []byte("the object's data"))
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bucket.Open(context.Background(), bucket.Config{
		Bucket: "b", Endpoint: srv.URL, CABundle: ca, Keyring: ring, MaxAttempts: 1, Observer: l,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := bucket.WithCaller(context.Background(), bucket.Caller{UID: 1000, PID: 77})
	if _, err := b.ReadRange(ctx, "dir/obj", `"v1"`, 0, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Head(ctx, "dir/obj"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "dir/new", []byte("new data"), nil, bucket.Condition{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.ListPage(ctx, "dir/", ""); err != nil {
		t.Fatal(err)
	}
	l.Event(KindMount, map[string]any{"keys": ring.Keys(), "current": key}) // keys encode as fingerprints
	l.Close()

	got := lines(t, path)
	if len(got) != 4 {
		t.Fatalf("%d lines, want GET, HEAD, PUT and the mount (the listing carries no key): %v", len(got), got)
	}
	for i, op := range []string{"GetObject", "HeadObject", "PutObject"} {
		if got[i]["op"] != op || got[i]["key"] != key.Fingerprint() || got[i]["uid"] != 1000.0 || got[i]["pid"] != 77.0 || got[i]["outcome"] != "ok" {
			t.Errorf("line %d: %v", i, got[i])
		}
	}
	if got[0]["bytes"] != 8.0 || got[2]["bytes"] != 8.0 {
		t.Errorf("bytes %v and %v, want 8 and 8", got[0]["bytes"], got[2]["bytes"])
	}
	file, _ := os.ReadFile(path)
	for what, form := range map[string][]byte{
		"base64":     []byte(key.Base64()),
		"raw base64": []byte(base64.RawStdEncoding.EncodeToString(raw)),
		"url base64": []byte(base64.URLEncoding.EncodeToString(raw)),
		"hex":        []byte(hex.EncodeToString(raw)),
		"HEX":        []byte(strings.ToUpper(hex.EncodeToString(raw))),
		"raw":        raw,
		"older key":  []byte(older.Base64()),
	} {
		if bytes.Contains(file, form) {
			t.Errorf("the audit log holds the key (%s)", what)
		}
	}
	if !bytes.Contains(file, []byte(key.Fingerprint())) || !bytes.Contains(file, []byte(older.Fingerprint())) {
		t.Error("the audit log does not name the keys by fingerprint")
	}
}
