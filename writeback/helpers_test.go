package writeback_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/internal/memstore"
	"github.com/ssecfs/ssecfs/writeback"
)

// The tests of the write-back engine run it over internal/memstore, without FUSE or a
// server. They live in package writeback_test because memstore imports writeback;
// export_test.go lends them a view of the engine's state.

const (
	KiB = 1 << 10
	MiB = 1 << 20
	wp  = writeback.WritePage
)

var ctx = context.Background()

// env is one engine over one in-memory bucket, with a hook on every store operation
// and a Base that reads the bucket and counts what it read.
type env struct {
	t     *testing.T
	store *memstore.Store
	e     *writeback.Engine
	cfg   writeback.Config

	mu   sync.Mutex
	hook func(op, key string) error // see setHook
	ops  map[string]int             // operations asked of the store (failed ones too)

	// baseHook, if set, runs before every read of a base (it may block).
	baseHook  atomic.Pointer[func(key string, off int64)]
	baseBytes atomic.Int64 // bytes read from bases
	versions  sync.Map     // "key etag" -> the bytes of that version, as bases read them
	basesOpen atomic.Int64 // bases opened and not closed
}

// newEnv makes an engine with PartSize 5 MiB, WriteBuffer 16 MiB and 4 upload slots,
// changed by tune.
func newEnv(t *testing.T, tune func(*writeback.Config)) *env {
	t.Helper()
	en := &env{t: t, store: memstore.New(), ops: make(map[string]int)}
	en.cfg = writeback.Config{
		PartSize:    5 * MiB,
		WriteBuffer: 16 * MiB,
		Slots:       make(chan struct{}, 4),
		TempDir:     t.TempDir(),
		Logger:      testLogger(t),
	}
	if tune != nil {
		tune(&en.cfg)
	}
	en.store.Before = func(op, key string) error {
		en.mu.Lock()
		en.ops[op]++
		hook := en.hook
		en.mu.Unlock()
		if hook != nil {
			return hook(op, key)
		}
		return nil
	}
	en.e = writeback.New(partStore{en.store}, en.openBase, en.cfg)
	return en
}

// partStore is the memstore, but for PutPartFrom reading the part into one buffer of
// its size: memstore's io.ReadAll grows it step by step, which under -race costs more
// than all the rest of a save (each new buffer's shadow memory is faulted in anew).
type partStore struct{ *memstore.Store }

func (s partStore) StartUpload(ctx context.Context, key string, meta map[string]string) (writeback.Upload, error) {
	up, err := s.Store.StartUpload(ctx, key, meta)
	if err != nil {
		return nil, err
	}
	return partUpload{up}, nil
}

type partUpload struct{ writeback.Upload }

func (u partUpload) PutPartFrom(ctx context.Context, n int32, body io.ReadSeeker, size int64) error {
	buf := make([]byte, size)
	if _, err := io.ReadFull(body, buf); err != nil {
		return fmt.Errorf("part %d of %d bytes: %w", n, size, err)
	}
	return u.Upload.PutPartPages(ctx, n, [][]byte{buf})
}

// setHook makes every store operation call hook first (nil: none); an error fails the
// operation with no effect.
func (en *env) setHook(hook func(op, key string) error) {
	en.mu.Lock()
	en.hook = hook
	en.mu.Unlock()
}

// count is how many times op was asked of the store since the last resetCounts.
func (en *env) count(op string) int {
	en.mu.Lock()
	defer en.mu.Unlock()
	return en.ops[op]
}

func (en *env) resetCounts() {
	en.mu.Lock()
	en.ops = make(map[string]int)
	en.mu.Unlock()
	en.baseBytes.Store(0)
}

// failOp makes op fail: once (the first time only) or always, until setHook(nil).
func (en *env) failOp(op string, once bool) {
	var failed atomic.Bool
	en.setHook(func(o, key string) error {
		if o != op || (once && failed.Swap(true)) {
			return nil
		}
		failed.Store(true)
		return fmt.Errorf("injected failure of %s", op)
	})
}

// testBase reads a version of an object from the memstore, failing like a ranged GET of
// the version once the store no longer has it. The bytes of each version are read from
// the store once and kept (env.versions): a GET per read allocates its range anew,
// which costs much under -race.
type testBase struct {
	en        *env
	key, etag string
	closed    atomic.Bool
}

func (en *env) openBase(key, etag string, size int64) writeback.Base {
	en.basesOpen.Add(1)
	return &testBase{en: en, key: key, etag: etag}
}

func (b *testBase) ReadAt(ctx context.Context, dst []byte, off int64) (int, error) {
	if h := b.en.baseHook.Load(); h != nil {
		(*h)(b.key, off)
	}
	info, err := b.en.store.Head(ctx, b.key)
	if err == nil && info.ETag != b.etag {
		err = &bucket.Error{Op: memstore.OpGet, Object: b.key, Kind: bucket.ErrChanged, Err: errors.New("412 Precondition Failed")}
	}
	if err != nil {
		return 0, err
	}
	data, ok := b.en.versions.Load(b.key + " " + b.etag)
	if !ok {
		d, _, etag, _ := b.en.store.Object(b.key)
		if etag != b.etag {
			return 0, &bucket.Error{Op: memstore.OpGet, Object: b.key, Kind: bucket.ErrChanged, Err: errors.New("412 Precondition Failed")}
		}
		data, _ = b.en.versions.LoadOrStore(b.key+" "+b.etag, d)
	}
	version := data.([]byte)
	if off >= int64(len(version)) {
		return 0, nil
	}
	n := copy(dst, version[off:])
	b.en.baseBytes.Add(int64(n))
	return n, nil
}

func (b *testBase) Close() {
	if b.closed.Swap(true) {
		b.en.t.Errorf("base %s %s closed twice", b.key, b.etag)
		return
	}
	b.en.basesOpen.Add(-1)
}

var testMeta = map[string]string{"mode": "0644"}

func metaFunc() map[string]string { return testMeta }

// put stores data as key, unconditionally, and returns its ETag.
func (en *env) put(key string, data []byte) string {
	en.t.Helper()
	etag, err := en.store.Put(ctx, key, data, nil, bucket.Condition{})
	if err != nil {
		en.t.Fatal(err)
	}
	return etag
}

// open opens key at the version the store has now (a new file if none).
func (en *env) open(key string) *writeback.File {
	info, err := en.store.Head(ctx, key)
	if err != nil {
		return en.e.Open(key, "", 0, metaFunc)
	}
	return en.e.Open(key, info.ETag, info.Size, metaFunc)
}

func (en *env) write(f *writeback.File, data []byte, off int64) {
	en.t.Helper()
	if err := f.Write(ctx, data, off); err != nil {
		en.t.Fatalf("write of %d bytes at %d: %v", len(data), off, err)
	}
}

func (en *env) truncate(f *writeback.File, size int64) {
	en.t.Helper()
	if err := f.Truncate(size); err != nil {
		en.t.Fatalf("truncate to %d: %v", size, err)
	}
}

func (en *env) save(f *writeback.File) writeback.Saved {
	en.t.Helper()
	s, err := f.Save(ctx)
	if err != nil {
		en.t.Fatalf("save of %s: %v", f.Key(), err)
	}
	return s
}

// readAll reads the whole file through ReadAt.
func readAll(t *testing.T, f *writeback.File) []byte {
	t.Helper()
	buf := make([]byte, f.Size())
	n, err := f.ReadAt(ctx, buf, 0)
	if err != nil {
		t.Fatalf("read of %s: %v", f.Key(), err)
	}
	return buf[:n]
}

// checkFile fails unless the file reads as want.
func checkFile(t *testing.T, f *writeback.File, want []byte) {
	t.Helper()
	if got := readAll(t, f); !bytes.Equal(got, want) {
		t.Fatalf("%s reads %s", f.Key(), diff(got, want))
	}
}

// checkObject fails unless the store holds want as key.
func (en *env) checkObject(key string, want []byte) {
	en.t.Helper()
	got, meta, _, ok := en.store.Object(key)
	if !ok {
		en.t.Fatalf("no object %s (keys %v)", key, en.store.Keys())
	}
	if !bytes.Equal(got, want) {
		en.t.Fatalf("object %s holds %s", key, diff(got, want))
	}
	if meta["mode"] != testMeta["mode"] {
		en.t.Fatalf("object %s has metadata %v", key, meta)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 10 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitNoUploads waits until every multipart upload was completed or aborted (an
// abandoned stream is aborted in the background).
func (en *env) waitNoUploads() {
	en.t.Helper()
	waitFor(en.t, "free of open multipart uploads", func() bool { return en.store.OpenUploads() == 0 })
}

// waitBudgetFree waits until all of the write budget is free: no page is held.
func (en *env) waitBudgetFree() {
	en.t.Helper()
	waitFor(en.t, "with all of the write budget free", func() bool { return writeback.BudgetFree(en.e) == en.cfg.WriteBuffer })
}

// randBytes is n bytes drawn from r (through ChaCha8: fast under -race too).
func randBytes(r *rand.Rand, n int) []byte {
	var seed [32]byte
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(seed[i:], r.Uint64())
	}
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5eed)) }

// patched is orig with data written at off, grown with zeros as needed.
func patched(orig, data []byte, off int64) []byte {
	return patch(bytes.Clone(orig), data, off)
}

// patch writes data into b at off, growing it with zeros as needed (in place).
func patch(b, data []byte, off int64) []byte {
	if end := int(off) + len(data); end > len(b) {
		b = append(b, make([]byte, end-len(b))...)
	}
	copy(b[off:], data)
	return b
}

// resized is b cut or grown with zeros to n bytes.
func resized(b []byte, n int64) []byte {
	if int64(len(b)) >= n {
		return bytes.Clone(b[:n])
	}
	return append(bytes.Clone(b), make([]byte, n-int64(len(b)))...)
}

// diff describes how got differs from want, both read from offset 0 of a file.
func diff(got, want []byte) string { return diffAt(got, want, 0) }

// diffAt describes how got differs from want, both read from offset off of a file.
func diffAt(got, want []byte, off int64) string {
	i := firstDiff(got, want)
	at := off + int64(i)
	if len(got) != len(want) {
		return fmt.Sprintf("%d bytes, want %d (first difference at %d)", len(got), len(want), at)
	}
	return fmt.Sprintf("a difference at %d (page %d + %d): %x, want %x", at, at/wp, at%wp, got[i:min(i+8, len(got))], want[i:min(i+8, len(want))])
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// testLogger logs to t while the test runs (an abandoned stream may log after it).
func testLogger(t *testing.T) *slog.Logger {
	w := &tlogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tlogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
