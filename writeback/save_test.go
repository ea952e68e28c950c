package writeback_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/internal/memstore"
	"github.com/ssecfs/ssecfs/writeback"
)

// checkConflict checks that a save answered a *ConflictError for key, left the other
// writer's version (theirsETag) alone and no upload open, and saved ours beside it (nil:
// could not).
func (en *env) checkConflict(f *writeback.File, err error, key, theirsETag string, ours []byte) {
	en.t.Helper()
	var ce *writeback.ConflictError
	if !errors.As(err, &ce) {
		en.t.Fatalf("save of %s after another writer replaced it: %v; want a ConflictError", key, err)
	}
	if ce.Key != key || !errors.Is(err, bucket.ErrChanged) {
		en.t.Errorf("ConflictError for %q, cause %v", ce.Key, ce.Err)
	}
	if _, _, etag, ok := en.store.Object(key); !ok || etag != theirsETag {
		en.t.Errorf("the other writer's %s is now version %s (exists %v), was %s", key, etag, ok, theirsETag)
	}
	en.waitNoUploads()
	if !f.SaveFailed() {
		en.t.Error("SaveFailed() is false after a conflict")
	}
	keys := en.store.Keys()
	if ours == nil {
		if ce.SavedAs != "" || len(keys) != 1 {
			en.t.Errorf("saved beside as %q, objects %v; want nothing beside", ce.SavedAs, keys)
		}
		return
	}
	if !strings.HasPrefix(ce.SavedAs, key+".conflict-") {
		en.t.Fatalf("saved beside as %q", ce.SavedAs)
	}
	en.checkObject(ce.SavedAs, ours)
	if len(keys) != 2 {
		en.t.Errorf("objects %v; want %s and %s", keys, key, ce.SavedAs)
	}
	if f.Dirty() {
		en.t.Error("still dirty once saved beside")
	}
}

// An object replaced by another writer between the open and the save: our version goes
// beside it, theirs stays.
func TestConflictReplaced(t *testing.T) {
	en := newEnv(t, nil)
	orig := randBytes(newRand(30), 3*MiB)
	en.put("doc", orig)
	f := en.open("doc")
	en.write(f, []byte("ours"), MiB)
	theirs := en.put("doc", []byte("theirs"))
	_, err := f.Save(ctx)
	en.checkConflict(f, err, "doc", theirs, patched(orig, []byte("ours"), MiB))
	f.Drop()
	en.waitBudgetFree()
}

// A new file whose name another writer took meanwhile: ours goes beside theirs.
func TestConflictCreated(t *testing.T) {
	en := newEnv(t, nil)
	f := en.open("new")
	en.write(f, []byte("ours"), 0)
	theirs := en.put("new", []byte("theirs"))
	_, err := f.Save(ctx)
	en.checkConflict(f, err, "new", theirs, []byte("ours"))
	f.Drop()
}

// An object up to PartSize only truncated (no byte written) and replaced meanwhile is
// still saved beside whole (README: files up to --part-size always are).
func TestConflictTruncatedOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		size int64
	}{{"shrunk", MiB + 5}, {"grown", 4 * MiB}} {
		t.Run(c.name, func(t *testing.T) {
			en := newEnv(t, nil)
			orig := randBytes(newRand(31), 3*MiB)
			en.put("doc", orig)
			f := en.open("doc")
			en.truncate(f, c.size)
			theirs := en.put("doc", []byte("theirs"))
			_, err := f.Save(ctx)
			en.checkConflict(f, err, "doc", theirs, resized(orig, c.size))
			f.Drop()
			en.waitBudgetFree()
		})
	}
}

// A large file rewritten whole (kept for reads, so it does not stream) is saved beside
// with a multipart upload.
func TestConflictLargeRewritten(t *testing.T) {
	en := newEnv(t, nil)
	en.put("big", randBytes(newRand(32), 12*MiB))
	f := en.open("big")
	f.KeepForReads()
	en.truncate(f, 0)
	ours := randBytes(newRand(33), 11*MiB)
	if err := writeSequentially(f, ours, nil); err != nil {
		t.Fatal(err)
	}
	theirs := en.put("big", []byte("theirs"))
	en.resetCounts()
	_, err := f.Save(ctx)
	en.checkConflict(f, err, "big", theirs, ours)
	if n := en.count(memstore.OpStartUpload); n != 2 {
		t.Errorf("%d multipart uploads; want 2 (the failed one, the one beside)", n)
	}
	f.Drop()
	en.waitBudgetFree()
}

// A large file edited in place takes its untouched parts from the version another writer
// replaced: it cannot be saved, nor beside (README), and nothing is left behind.
func TestConflictLargeEdited(t *testing.T) {
	en := newEnv(t, nil)
	orig := randBytes(newRand(34), 12*MiB)
	en.put("big", orig)
	f := en.open("big")
	en.write(f, []byte("ours"), 6*MiB)
	theirs := en.put("big", []byte("theirs"))
	_, err := f.Save(ctx)
	en.checkConflict(f, err, "big", theirs, nil)
	if !f.Dirty() {
		t.Error("the edit is no longer dirty though saved nowhere")
	}
	f.Drop()
	en.waitBudgetFree()
}

// A new file streamed while written, whose name another writer took meanwhile: its
// parts are only in its upload, so it cannot be saved beside (README); the upload is
// aborted and theirs stays.
func TestConflictStreamed(t *testing.T) {
	en := newEnv(t, nil)
	f := en.open("stream")
	if err := writeSequentially(f, randBytes(newRand(35), 12*MiB), nil); err != nil {
		t.Fatal(err)
	}
	if !writeback.Streaming(f) {
		t.Fatal("not streaming")
	}
	theirs := en.put("stream", []byte("theirs"))
	_, err := f.Save(ctx)
	en.checkConflict(f, err, "stream", theirs, nil)
	f.Drop()
	en.waitBudgetFree()
}

// With OverwriteConcurrent the save is unconditional: the last writer wins, for an object
// replaced, a name taken, and a large file.
func TestOverwriteConcurrent(t *testing.T) {
	en := newEnv(t, func(c *writeback.Config) { c.OverwriteConcurrent = true })
	orig := randBytes(newRand(36), 3*MiB)
	en.put("doc", orig)
	doc := en.open("doc")
	en.write(doc, []byte("ours"), 10)
	en.put("doc", []byte("theirs"))

	created := en.open("new")
	en.write(created, []byte("ours"), 0)
	en.put("new", []byte("theirs"))

	big := en.open("big")
	ours := randBytes(newRand(37), 12*MiB)
	if err := writeSequentially(big, ours, nil); err != nil {
		t.Fatal(err)
	}
	if !writeback.Streaming(big) {
		t.Fatal("not streaming")
	}
	en.put("big", []byte("theirs"))

	for _, f := range []*writeback.File{doc, created, big} {
		en.save(f)
	}
	en.checkObject("doc", patched(orig, []byte("ours"), 10))
	en.checkObject("new", []byte("ours"))
	en.checkObject("big", ours)
	if keys := en.store.Keys(); len(keys) != 3 {
		t.Errorf("objects %v", keys)
	}
	for _, f := range []*writeback.File{doc, created, big} {
		f.Drop()
	}
	en.waitBudgetFree()
}

// A store that fails each request of a save, once or until it recovers (both only for
// the request a save makes several of: the parts sent): the save fails,
// says so, leaves the old version (or no object) and no upload open, keeps the content
// dirty, and a later save writes it.
func TestSaveFailures(t *testing.T) {
	type kind struct {
		name  string
		base  int // size of the object before; 0: none
		setup func(en *env, f *writeback.File, want []byte) []byte
		ops   []string
	}
	edit := func(off int64) func(en *env, f *writeback.File, want []byte) []byte {
		return func(en *env, f *writeback.File, want []byte) []byte {
			en.write(f, []byte("edited"), off)
			return patched(want, []byte("edited"), off)
		}
	}
	kinds := []kind{
		{"small object", 3 * MiB, edit(MiB), []string{memstore.OpPut}},
		{"new small file", 0, edit(10), []string{memstore.OpPut}},
		// Part 1 copied, 2 and 3 sent.
		{"large object", 10*MiB + 1, edit(6 * MiB), []string{memstore.OpStartUpload, memstore.OpPutPart, memstore.OpCopyPart, memstore.OpComplete}},
		{"new large file kept for reads", 0, func(en *env, f *writeback.File, _ []byte) []byte {
			f.KeepForReads()
			data := randBytes(newRand(38), 6*MiB)
			if err := writeSequentially(f, data, nil); err != nil {
				en.t.Fatal(err)
			}
			return data
		}, []string{memstore.OpStartUpload, memstore.OpPutPart, memstore.OpComplete}},
	}
	for _, k := range kinds {
		for _, op := range k.ops {
			modes := []bool{true}
			if op == memstore.OpPutPart {
				modes = append(modes, false)
			}
			for _, once := range modes {
				t.Run(fmt.Sprintf("%s/%s/once=%v", k.name, op, once), func(t *testing.T) {
					en := newEnv(t, nil)
					var want []byte
					var etag string
					if k.base > 0 {
						want = randBytes(newRand(39), k.base)
						etag = en.put("obj", want)
					}
					f := en.open("obj")
					want = k.setup(en, f, want)
					if writeback.Streaming(f) {
						t.Fatal("streaming")
					}
					en.resetCounts()
					en.failOp(op, once)
					if _, err := f.Save(ctx); err == nil {
						t.Fatal("the save succeeded")
					} else if errors.As(err, new(*writeback.ConflictError)) {
						t.Fatalf("a failure taken for a conflict: %v", err)
					}
					if en.count(op) == 0 {
						t.Fatalf("the save asked no %s", op)
					}
					if !f.SaveFailed() || !f.Dirty() {
						t.Errorf("after a failed save: SaveFailed %v, Dirty %v", f.SaveFailed(), f.Dirty())
					}
					if info, err := en.store.Head(ctx, "obj"); info.ETag != etag || (err == nil) != (etag != "") {
						t.Errorf("the object is version %q (%v), was %q", info.ETag, err, etag)
					}
					en.waitNoUploads()

					// The content was kept: the next save writes it.
					en.setHook(nil)
					if s := en.save(f); s.ETag == "" {
						t.Fatal("the second save saved nothing")
					}
					en.checkObject("obj", want)
					if f.SaveFailed() || f.Dirty() {
						t.Errorf("after the second save: SaveFailed %v, Dirty %v", f.SaveFailed(), f.Dirty())
					}
					f.Drop()
					en.waitBudgetFree()
				})
			}
		}
	}
}

// A streaming file whose upload fails (to begin, a part, or to complete): the save fails,
// no object appears, the upload is aborted. What was streamed is only in that upload, so
// a later save fails too rather than save less than was written (README: close returns
// EIO).
func TestStreamFailures(t *testing.T) {
	for _, op := range []string{memstore.OpStartUpload, memstore.OpPutPart, memstore.OpComplete} {
		modes := []bool{true}
		if op == memstore.OpPutPart {
			modes = append(modes, false)
		}
		for _, once := range modes {
			t.Run(fmt.Sprintf("%s/once=%v", op, once), func(t *testing.T) {
				en := newEnv(t, nil)
				en.failOp(op, once)
				f := en.open("stream")
				data := randBytes(newRand(40), 16*MiB) // 2 parts streamed, 2 sent at the save
				if err := writeSequentially(f, data, nil); err != nil {
					t.Fatal(err)
				}
				if !writeback.Streaming(f) {
					t.Fatal("not streaming")
				}
				if _, err := f.Save(ctx); err == nil {
					t.Fatal("the save succeeded")
				}
				if !f.SaveFailed() || !f.Dirty() {
					t.Errorf("after a failed save: SaveFailed %v, Dirty %v", f.SaveFailed(), f.Dirty())
				}
				en.waitNoUploads()
				en.setHook(nil)
				if s, err := f.Save(ctx); err == nil {
					t.Errorf("a second save succeeded: %+v", s)
				}
				if keys := en.store.Keys(); len(keys) != 0 {
					got, _, _, _ := en.store.Object("stream")
					t.Errorf("objects %v after failed saves (stream holds %d bytes, of %d written; equal %v)", keys, len(got), len(data), bytes.Equal(got, data))
				}
				en.waitNoUploads()
				f.Drop()
				en.waitNoUploads()
				en.waitBudgetFree()
			})
		}
	}
}

// A write that lands while the content is being saved beside a conflict is not in the
// copy beside: the file must stay dirty, so the next save does not drop it.
func TestConflictKeepsAWriteMadeDuringTheSaveBeside(t *testing.T) {
	en := newEnv(t, nil)
	en.put("doc", []byte("original"))
	f := en.open("doc")
	en.write(f, []byte("ours"), 0)
	en.put("doc", []byte("theirs"))
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	en.setHook(func(op, key string) error {
		if op == memstore.OpPut && strings.Contains(key, ".conflict-") {
			once.Do(func() { close(entered); <-release })
		}
		return nil
	})
	saved := make(chan error, 1)
	go func() { _, err := f.Save(ctx); saved <- err }()
	<-entered
	en.write(f, []byte("LATE"), 4) // while the copy beside is on its way
	close(release)
	var conflict *writeback.ConflictError
	if err := <-saved; !errors.As(err, &conflict) || conflict.SavedAs == "" {
		t.Fatalf("Save = %v, want a conflict saved beside", err)
	}
	if !f.Dirty() {
		t.Error("a write made during the save beside is counted as saved: the next save would drop it")
	}
	f.Drop()
}
