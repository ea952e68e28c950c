package writeback_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/internal/memstore"
	"github.com/ssecfs/ssecfs/writeback"
)

// budgetSampler records the least free write budget seen until stop.
type budgetSampler struct {
	en      *env
	min     atomic.Int64
	stopped chan struct{}
	wg      sync.WaitGroup
}

func sampleBudget(en *env) *budgetSampler {
	s := &budgetSampler{en: en, stopped: make(chan struct{})}
	s.min.Store(en.cfg.WriteBuffer)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			if free := writeback.BudgetFree(en.e); free < s.min.Load() {
				s.min.Store(free)
			}
			select {
			case <-s.stopped:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the least free budget seen.
func (s *budgetSampler) stop() int64 {
	close(s.stopped)
	s.wg.Wait()
	return min(s.min.Load(), writeback.BudgetFree(s.en.e))
}

// waitPartsSent waits until no streamed part of files holds pages: every page of
// budget in use is one of theirs in memory (a first part back from its upload
// included).
func (en *env) waitPartsSent(files ...*writeback.File) {
	en.t.Helper()
	waitFor(en.t, "done sending parts", func() bool {
		return writeback.BudgetFree(en.e) == en.cfg.WriteBuffer-held(files...)*wp
	})
}

// held is how many pages files hold in memory.
func held(files ...*writeback.File) int64 {
	n := 0
	for _, f := range files {
		mem, _ := writeback.Pages(f)
		n += mem
	}
	return int64(n)
}

// writeSequentially writes data from 0 in FUSE-sized chunks, counting what it wrote.
func writeSequentially(f *writeback.File, data []byte, written *atomic.Int64) error {
	const chunk = 128 * KiB
	for off := 0; off < len(data); off += chunk {
		if err := f.Write(ctx, data[off:min(off+chunk, len(data))], int64(off)); err != nil {
			return err
		}
		if written != nil {
			written.Store(int64(min(off+chunk, len(data))))
		}
	}
	return nil
}

// A new file written front to back, larger than the write buffer, streams its parts
// while it is written, each as soon as the writer has passed it; a writer faster than
// the uploads waits for the budget instead of growing memory. A read of a streamed
// range waits for the save; the save sends the rest and completes the upload.
func TestStreamWriterHeldBackByBudget(t *testing.T) {
	en := newEnv(t, nil) // 16 MiB buffer, 5 MiB parts, 4 upload slots
	gate := make(chan struct{})
	var waiting, sent atomic.Int64
	en.setHook(func(op, key string) error {
		if op == memstore.OpPutPart {
			waiting.Add(1)
			<-gate
			waiting.Add(-1)
			sent.Add(1)
		}
		return nil
	})
	const size = 30 * MiB
	data := randBytes(newRand(20), size)
	f := en.open("stream")
	sampler := sampleBudget(en)
	var written atomic.Int64
	done := make(chan error, 1)
	go func() { done <- writeSequentially(f, data, &written) }()

	// Parts leave as soon as the writer has passed each; with their uploads held,
	// the writer stops when the buffer is full: three parts on their way, and the
	// page it writes.
	waitFor(t, "three parts on their way", func() bool { return waiting.Load() == 3 })
	for last := int64(-1); last != written.Load(); time.Sleep(300 * time.Millisecond) {
		last = written.Load()
	}
	if w := written.Load(); w >= size || w > en.cfg.WriteBuffer {
		t.Errorf("the writer wrote %d MiB while uploads were held; want it held at the %d MiB of the buffer", w/MiB, en.cfg.WriteBuffer/MiB)
	}
	select {
	case err := <-done:
		t.Fatalf("the writer finished while uploads were held: %v", err)
	default:
	}
	if !writeback.Streaming(f) || writeback.StreamFloor(f) != 15 {
		t.Errorf("streaming %v from page %d; want pages 0-14 on their way", writeback.Streaming(f), writeback.StreamFloor(f))
	}

	// A streamed range past the first part cannot be read back, written or cut
	// until the save.
	_, err := f.ReadAt(ctx, make([]byte, 100), 5*MiB)
	var streamed writeback.StreamedRange
	if !errors.As(err, &streamed) {
		t.Fatalf("read of a streamed range: %v; want StreamedRange", err)
	}
	select {
	case <-streamed.Done:
		t.Fatal("StreamedRange.Done is closed before the save")
	default:
	}
	if err := f.Write(ctx, []byte("x"), 7*MiB); !errors.Is(err, writeback.ErrBehindStream) {
		t.Errorf("write into a streamed range: %v", err)
	}
	if err := f.Truncate(MiB); !errors.Is(err, writeback.ErrBehindStream) {
		t.Errorf("truncate into a streamed range: %v", err)
	}

	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Parts 1-5 leave before the save (each once the writer has passed it); wait
	// until they are sent and their pages freed.
	waitFor(t, "five parts sent", func() bool {
		return sent.Load() == 5 && writeback.BudgetFree(en.e) == en.cfg.WriteBuffer-held(f)*wp
	})
	if n := en.count(memstore.OpComplete); n != 0 {
		t.Fatalf("%d completions before the save", n)
	}
	en.save(f)
	if free := sampler.stop(); free < -2*wp {
		t.Errorf("the write budget went %d KiB over its limit", -free/KiB)
	}
	if sent.Load() != 6 || en.count(memstore.OpStartUpload) != 1 || en.count(memstore.OpComplete) != 1 {
		t.Errorf("%d parts, %d uploads, %d completions; want 6, 1, 1", sent.Load(), en.count(memstore.OpStartUpload), en.count(memstore.OpComplete))
	}
	en.checkObject("stream", data)
	select {
	case <-streamed.Done:
	case <-time.After(10 * time.Second):
		t.Fatal("StreamedRange.Done still open after the save")
	}
	if writeback.Streaming(f) || f.Dirty() {
		t.Error("the file still streams or is dirty after the save")
	}
	checkFile(t, f, data) // from the saved object now
	if en.store.OpenUploads() != 0 {
		t.Error("an upload is left open")
	}
	f.Drop()
	en.waitBudgetFree()
}

// A file written front to back and then grown by truncate (as cp --sparse does for a
// trailing hole) streams, and the save sends the hole as zeros, a part at a time.
func TestStreamGrownByTruncate(t *testing.T) {
	en := newEnv(t, nil)
	data := randBytes(newRand(21), 12*MiB)
	f := en.open("sparse")
	if err := writeSequentially(f, data, nil); err != nil {
		t.Fatal(err)
	}
	if !writeback.Streaming(f) {
		t.Fatal("12 MiB written front to back do not stream")
	}
	en.truncate(f, 40*MiB)
	en.write(f, []byte("tail"), 30*MiB)
	want := patched(resized(data, 40*MiB), []byte("tail"), 30*MiB)
	en.waitPartsSent(f)
	sampler := sampleBudget(en)
	en.save(f)
	if free := sampler.stop(); free < -en.cfg.PartSize {
		t.Errorf("the save of a sparse streamed file went %d MiB over the write budget of %d MiB: its holes were assembled in memory", -free/MiB, en.cfg.WriteBuffer/MiB)
	}
	en.checkObject("sparse", want)
	f.Drop()
	en.waitBudgetFree()
}

// A new file written front to back, then past a hole (as cp --sparse writes a sparse
// file), streams its first parts; the pages past the hole cannot leave by upload before
// the save, so they must be sealed into the spill file when the buffer is full rather
// than stop the writer.
func TestStreamWithHolesDoesNotStall(t *testing.T) {
	en := newEnv(t, func(c *writeback.Config) { c.WriteBuffer = 3 * c.PartSize }) // the least the mount allows
	f := en.open("holes")
	sampler := sampleBudget(en)
	want := randBytes(newRand(22), 12*MiB)
	if err := writeSequentially(f, want, nil); err != nil {
		t.Fatal(err)
	}
	r := newRand(23)
	done := make(chan error, 1)
	var pages [][]byte
	for off := int64(13 * MiB); off < 31*MiB; off += MiB { // page 12 is a hole
		p := randBytes(r, wp)
		pages = append(pages, p)
		want = patch(want, p, off)
	}
	go func() {
		for i, p := range pages {
			if err := f.Write(ctx, p, int64(13*MiB+MiB*i)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		mem, spilled := writeback.Pages(f)
		t.Fatalf("the writer of a streaming file with holes still waits after 20 s: %d pages in memory, %d sealed, budget free %d KiB", mem, spilled, writeback.BudgetFree(en.e)/KiB)
	}
	if _, spilled := writeback.Pages(f); spilled == 0 || !writeback.Streaming(f) {
		t.Errorf("no page sealed (streaming %v)", writeback.Streaming(f))
	}
	// What has not left reads back.
	from := writeback.StreamFloor(f) * wp
	got := make([]byte, int64(len(want))-from)
	if n, err := f.ReadAt(ctx, got, from); err != nil || !bytes.Equal(got[:n], want[from:]) {
		t.Fatalf("read of [%d, %d): %d bytes, %v; differs", from, len(want), n, err)
	}
	en.save(f)
	if free := sampler.stop(); free < -en.cfg.PartSize {
		t.Errorf("the write budget went %d MiB over its limit", -free/MiB)
	}
	en.checkObject("holes", want)
	f.Drop()
	en.waitBudgetFree()
}

// Drop of a streaming file aborts its upload, once the parts on their way are done,
// and frees their pages; nothing is saved.
func TestStreamDropAborts(t *testing.T) {
	en := newEnv(t, nil)
	gate := make(chan struct{})
	en.setHook(func(op, key string) error {
		if op == memstore.OpPutPart {
			<-gate
		}
		return nil
	})
	f := en.open("dropped")
	if err := writeSequentially(f, randBytes(newRand(24), 15*MiB), nil); err != nil {
		t.Fatal(err)
	}
	if !writeback.Streaming(f) {
		t.Fatal("not streaming")
	}
	waitFor(t, "an upload begun", func() bool { return en.store.OpenUploads() == 1 })
	f.Drop()
	close(gate)
	en.waitNoUploads()
	en.waitBudgetFree()
	if n := en.count(memstore.OpAbort); n != 1 {
		t.Errorf("%d aborts, want 1", n)
	}
	if keys := en.store.Keys(); len(keys) != 0 {
		t.Errorf("objects after Drop: %v", keys)
	}
}

// Two files written front to back at once through the least buffer the mount allows
// (three parts): each holds up to a part and a page that are to stream, and its first
// part kept, so together they can fill the buffer with pages that cannot be sealed and
// nothing on its way to S3 to free any. They must not wait for each other until
// ErrNoBuffer.
func TestConcurrentStreamsDoNotStall(t *testing.T) {
	en := newEnv(t, func(c *writeback.Config) { c.WriteBuffer = 3 * c.PartSize })
	a, b := en.open("a"), en.open("b")
	dataA, dataB := randBytes(newRand(25), 20*MiB), randBytes(newRand(26), 20*MiB)
	// a streams its first two parts, keeps the first (5 pages) and pages 10-13 (4;
	// part 3 leaves past 15 MiB).
	if err := writeSequentially(a, dataA[:14*MiB], nil); err != nil {
		t.Fatal(err)
	}
	en.waitPartsSent(a)
	// b takes the other 6 pages of the buffer, streaming its first parts too (and
	// a's kept first part is let go for it).
	if err := writeSequentially(b, dataB[:14*MiB], nil); err != nil {
		t.Fatal(err)
	}
	en.waitPartsSent(a, b)
	// Without a way out, the buffer is now full of pages to stream and kept first
	// parts, and the next page of either waits for the other.
	memA, sealedA := writeback.Pages(a)
	memB, sealedB := writeback.Pages(b)
	t.Logf("budget free %d KiB; a streamed below page %d, %d pages in memory, %d sealed; b below %d, %d and %d",
		writeback.BudgetFree(en.e)/KiB, writeback.StreamFloor(a), memA, sealedA, writeback.StreamFloor(b), memB, sealedB)
	done := make(chan error, 2)
	for _, w := range []struct {
		f    *writeback.File
		data []byte
		from int
	}{{a, dataA, 14 * MiB}, {b, dataB, 14 * MiB}} {
		go func() { done <- writeSequentiallyFrom(w.f, w.data, w.from) }()
	}
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("two streaming writers still wait after 20 s (budget free %d KiB)", writeback.BudgetFree(en.e)/KiB)
		}
	}
	en.save(a)
	en.save(b)
	en.checkObject("a", dataA)
	en.checkObject("b", dataB)
	a.Drop()
	b.Drop()
	en.waitBudgetFree()
}

// writeSequentiallyFrom writes data[from:] at from in FUSE-sized chunks.
func writeSequentiallyFrom(f *writeback.File, data []byte, from int) error {
	const chunk = 128 * KiB
	for off := from; off < len(data); off += chunk {
		if err := f.Write(ctx, data[off:min(off+chunk, len(data))], int64(off)); err != nil {
			return err
		}
	}
	return nil
}

// A new file written front to back streams its first part, S3's smallest (5 MiB),
// as soon as the writer has passed it, whatever the part size: a file of one 8 MiB
// part sends 5 MiB while it is written, and its save only the other 3 MiB. A file
// that ends where the first part does is one PutObject, like every smaller one.
func TestStreamFirstPartEarly(t *testing.T) {
	en := newEnv(t, func(c *writeback.Config) { c.PartSize = 8 * MiB; c.WriteBuffer = 32 * MiB })
	if got := writeback.StreamPartPages(en.e, 1); got != 5 {
		t.Fatalf("the first part holds %d pages; want 5", got)
	}
	for _, c := range []struct {
		size                            int
		streams                         bool
		puts, uploads, parts, completes int
	}{
		{size: 5 * MiB, puts: 1},
		{size: 5*MiB + 1, streams: true, uploads: 1, parts: 2, completes: 1},
		{size: 8 * MiB, streams: true, uploads: 1, parts: 2, completes: 1},
		{size: 13*MiB + 1, streams: true, uploads: 1, parts: 3, completes: 1},
	} {
		en.resetCounts()
		key := fmt.Sprintf("file-%d", c.size)
		data := randBytes(newRand(uint64(c.size)), c.size)
		f := en.open(key)
		if err := writeSequentially(f, data, nil); err != nil {
			t.Fatal(err)
		}
		if writeback.Streaming(f) != c.streams {
			t.Errorf("%d bytes: streaming %v before the save; want %v", c.size, writeback.Streaming(f), c.streams)
		}
		if c.streams {
			en.waitPartsSent(f)
			if n := en.count(memstore.OpPutPart); n != c.parts-1 {
				t.Errorf("%d bytes: %d parts sent before the save; want %d", c.size, n, c.parts-1)
			}
		}
		en.save(f)
		en.checkObject(key, data)
		for op, want := range map[string]int{memstore.OpPut: c.puts, memstore.OpStartUpload: c.uploads,
			memstore.OpPutPart: c.parts, memstore.OpComplete: c.completes} {
			if n := en.count(op); n != want {
				t.Errorf("%d bytes: %d %s; want %d", c.size, n, op, want)
			}
		}
		f.Drop()
	}
	en.waitNoUploads()
	en.waitBudgetFree()
}

// A writer that goes back to patch the start of a file it streams, as zip and WAV
// writers fill in a header before closing, can: the first part's pages were kept, and
// the part is sent again at the save. A patch that comes while the first part is on
// its way waits for it.
func TestStreamHeaderPatched(t *testing.T) {
	for _, inFlight := range []bool{false, true} {
		t.Run(fmt.Sprintf("first part on its way %v", inFlight), func(t *testing.T) {
			en := newEnv(t, func(c *writeback.Config) { c.PartSize = 8 * MiB; c.WriteBuffer = 32 * MiB })
			gate := make(chan struct{})
			if inFlight {
				var first atomic.Bool
				en.setHook(func(op, key string) error {
					if op == memstore.OpPutPart && !first.Swap(true) {
						<-gate
					}
					return nil
				})
			} else {
				close(gate)
			}
			data := randBytes(newRand(30), 12*MiB)
			f := en.open("archive")
			if err := writeSequentially(f, data, nil); err != nil {
				t.Fatal(err)
			}
			if writeback.StreamFloor(f) != 5 {
				t.Fatalf("streamed below page %d; want 5", writeback.StreamFloor(f))
			}
			want := bytes.Clone(data)
			patches := []struct {
				off  int64
				data []byte
			}{{4, []byte("RIFF size")}, {40, []byte("data size")}, {5*MiB - 3, []byte("across the first part's end")}}
			done := make(chan error, 1)
			go func() {
				for _, p := range patches {
					if err := f.Write(ctx, p.data, p.off); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			if inFlight {
				select {
				case err := <-done:
					t.Fatalf("a patch of the first part returned (%v) while the part was on its way", err)
				case <-time.After(100 * time.Millisecond):
				}
				close(gate)
			}
			if err := <-done; err != nil {
				t.Fatalf("patch of the first part: %v", err)
			}
			for _, p := range patches {
				want = patch(want, p.data, p.off)
			}
			// The first part reads back, as patched.
			got := make([]byte, 5*MiB+64*KiB)
			if n, err := f.ReadAt(ctx, got, 0); err != nil || !bytes.Equal(got[:n], want[:len(got)]) {
				t.Fatalf("read of the patched first part: %d bytes, %v; %s", n, err, diff(got[:n], want[:len(got)]))
			}
			en.save(f)
			en.checkObject("archive", want)
			if n := en.count(memstore.OpPutPart); n != 3 {
				t.Errorf("%d parts sent; want 3 (the first one twice)", n)
			}
			f.Drop()
			en.waitNoUploads()
			en.waitBudgetFree()
		})
	}
}

// The first part's pages, back from their upload, are pages like any other: when the
// buffer is short, they are sealed into the spill file, and still a writer can go back
// to them; the save is whole and the budget never goes over.
func TestStreamFirstPartSealedWhenMemoryShort(t *testing.T) {
	en := newEnv(t, func(c *writeback.Config) { c.WriteBuffer = 3 * c.PartSize }) // the least the mount allows
	gate := make(chan struct{})
	var parts atomic.Int64
	en.setHook(func(op, key string) error {
		if op == memstore.OpPutPart && parts.Add(1) > 1 {
			<-gate // the parts after the first wait, so the buffer fills
		}
		return nil
	})
	f := en.open("long")
	sampler := sampleBudget(en)
	data := randBytes(newRand(33), 20*MiB)
	done := make(chan error, 1)
	go func() { done <- writeSequentially(f, data, nil) }()
	waitFor(t, "the first part sealed", func() bool { return writeback.Spilled(f, 0) })
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	header := []byte("a header filled in at the end")
	en.write(f, header, 0)
	want := patched(data, header, 0)
	en.save(f)
	if free := sampler.stop(); free < -2*wp {
		t.Errorf("the write budget went %d KiB over its limit", -free/KiB)
	}
	en.checkObject("long", want)
	f.Drop()
	en.waitNoUploads()
	en.waitBudgetFree()
}

// While only the first part has left, a streaming file can still be saved whole
// elsewhere: a conflict's copy beside holds it all; it can be cut anywhere; and a save
// that failed gives the stream up, so that the next one sends the file whole.
func TestStreamOfOnePartSavedWhole(t *testing.T) {
	t.Run("beside a conflict", func(t *testing.T) {
		en := newEnv(t, func(c *writeback.Config) { c.PartSize = 8 * MiB; c.WriteBuffer = 32 * MiB })
		f := en.open("doc") // a new file: saved with If-None-Match
		data := randBytes(newRand(34), 8*MiB)
		if err := writeSequentially(f, data, nil); err != nil {
			t.Fatal(err)
		}
		if !writeback.Streaming(f) {
			t.Fatal("not streaming")
		}
		en.put("doc", []byte("theirs"))
		_, err := f.Save(ctx)
		var conflict *writeback.ConflictError
		if !errors.As(err, &conflict) || conflict.SavedAs == "" {
			t.Fatalf("Save = %v; want a conflict saved beside", err)
		}
		en.checkObject(conflict.SavedAs, data)
		if got, _, _, _ := en.store.Object("doc"); string(got) != "theirs" {
			t.Errorf("doc holds %d bytes; want theirs", len(got))
		}
		f.Drop()
		en.waitNoUploads()
		en.waitBudgetFree()
	})
	t.Run("cut below its first part", func(t *testing.T) {
		en := newEnv(t, func(c *writeback.Config) { c.PartSize = 8 * MiB; c.WriteBuffer = 32 * MiB })
		f := en.open("doc")
		data := randBytes(newRand(36), 6*MiB)
		if err := writeSequentially(f, data, nil); err != nil {
			t.Fatal(err)
		}
		if !writeback.Streaming(f) {
			t.Fatal("not streaming")
		}
		en.truncate(f, MiB+7)
		en.save(f)
		en.checkObject("doc", data[:MiB+7])
		if n := en.count(memstore.OpPut); n != 1 {
			t.Errorf("%d PutObject; want the file cut and whole in one", n)
		}
		f.Drop()
		en.waitNoUploads()
		en.waitBudgetFree()
	})
	t.Run("after a failure", func(t *testing.T) {
		en := newEnv(t, func(c *writeback.Config) { c.PartSize = 8 * MiB; c.WriteBuffer = 32 * MiB })
		en.failOp(memstore.OpComplete, false)
		f := en.open("doc")
		data := randBytes(newRand(35), 8*MiB)
		if err := writeSequentially(f, data, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Save(ctx); err == nil {
			t.Fatal("the save succeeded")
		}
		en.setHook(nil)
		en.resetCounts()
		en.save(f)
		en.checkObject("doc", data)
		if n := en.count(memstore.OpPut); n != 1 {
			t.Errorf("the save after a failure sent %d PutObject; want the file whole in one", n)
		}
		f.Drop()
		en.waitNoUploads()
		en.waitBudgetFree()
	})
}

// The parts of a stream hold the largest object S3 allows within its 10,000 parts,
// each between S3's smallest part and its largest, whatever the part size.
func TestStreamPartsHoldTheLargestObject(t *testing.T) {
	for _, ps := range []int64{5 * MiB, 8 * MiB, 64 * MiB, 1 << 30, 5 << 30} {
		en := newEnv(t, func(c *writeback.Config) { c.PartSize = ps })
		var total int64
		for n := int32(1); n <= 10000; n++ {
			size := writeback.StreamPartPages(en.e, n) * wp
			if size < 5*MiB || size > 5<<30 {
				t.Fatalf("part size %d MiB: part %d holds %d MiB", ps/MiB, n, size/MiB)
			}
			total += size
		}
		if total < writeback.MaxObjectSize {
			t.Errorf("part size %d MiB: 10,000 parts hold %d GiB, less than the largest object", ps/MiB, total>>30)
		}
	}
}

// Attributes set after the last write and before the save (cp -a and tar x set times,
// mode and owner then) reach the object although the upload began with older ones:
// while only the first part has left, the stream is given up and the file sent whole;
// else the completed object is copied onto itself with them.
func TestStreamMetaChangedBeforeSave(t *testing.T) {
	for _, c := range []struct {
		name          string
		size          int
		puts, copies  int
		uploads, done int
	}{
		{name: "first part only", size: 8 * MiB, puts: 1, uploads: 1},
		{name: "more parts", size: 20 * MiB, copies: 1, uploads: 1, done: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			en := newEnv(t, func(cfg *writeback.Config) { cfg.PartSize = 8 * MiB; cfg.WriteBuffer = 32 * MiB })
			var mu sync.Mutex
			meta := map[string]string{"mode": "33152", "mtime": "1796000000"}
			f := en.e.Open("doc", "", 0, func() map[string]string {
				mu.Lock()
				defer mu.Unlock()
				return maps.Clone(meta)
			})
			data := randBytes(newRand(37), c.size)
			if err := writeSequentially(f, data, nil); err != nil {
				t.Fatal(err)
			}
			en.waitPartsSent(f)
			if !writeback.Streaming(f) {
				t.Fatal("not streaming")
			}
			mu.Lock()
			meta = map[string]string{"mode": "33184", "mtime": "981173106"} // chmod 0640, touch -d 2001
			mu.Unlock()
			f.MetaChanged()
			en.save(f)
			got, gotMeta, _, _ := en.store.Object("doc")
			if !bytes.Equal(got, data) {
				t.Errorf("doc holds %s", diff(got, data))
			}
			if gotMeta["mode"] != "33184" || gotMeta["mtime"] != "981173106" {
				t.Errorf("doc's metadata %v; want the attributes set before the save", gotMeta)
			}
			for op, want := range map[string]int{memstore.OpPut: c.puts, memstore.OpCopy: c.copies,
				memstore.OpStartUpload: c.uploads, memstore.OpComplete: c.done} {
				if n := en.count(op); n != want {
					t.Errorf("%d %s; want %d", n, op, want)
				}
			}
			if f.Dirty() {
				t.Error("dirty after the save")
			}
			f.Drop()
			en.waitNoUploads()
			en.waitBudgetFree()
		})
	}
}

// Attributes set while a save is on its way may miss it: the file stays dirty, so the
// next save stores them.
func TestMetaChangedDuringSave(t *testing.T) {
	en := newEnv(t, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	en.setHook(func(op, key string) error {
		if op == memstore.OpPut {
			once.Do(func() { close(entered); <-release })
		}
		return nil
	})
	f := en.open("doc")
	en.write(f, []byte("content"), 0)
	saved := make(chan error, 1)
	go func() { _, err := f.Save(ctx); saved <- err }()
	<-entered
	f.MetaChanged()
	close(release)
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	if !f.Dirty() {
		t.Error("attributes set during a save are counted as saved: the next save would not store them")
	}
	en.save(f)
	f.Drop()
}

// Attributes set while the file is still being written: with only the first part gone,
// the file streams anew with them; with more gone, it keeps streaming, and the save
// copies the completed object onto itself with them.
func TestStreamMetaChangedWhileWriting(t *testing.T) {
	for _, c := range []struct {
		name            string
		changeAt        int
		uploads, copies int
	}{
		{name: "first part only", changeAt: 6 * MiB, uploads: 2, copies: 0},
		{name: "more parts", changeAt: 14 * MiB, uploads: 1, copies: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			en := newEnv(t, func(cfg *writeback.Config) { cfg.PartSize = 8 * MiB; cfg.WriteBuffer = 32 * MiB })
			var mu sync.Mutex
			meta := map[string]string{"mode": "33152"}
			f := en.e.Open("doc", "", 0, func() map[string]string {
				mu.Lock()
				defer mu.Unlock()
				return maps.Clone(meta)
			})
			data := randBytes(newRand(38), 30*MiB)
			if err := writeSequentially(f, data[:c.changeAt], nil); err != nil {
				t.Fatal(err)
			}
			en.waitPartsSent(f)
			mu.Lock()
			meta = map[string]string{"mode": "33184"}
			mu.Unlock()
			f.MetaChanged()
			sentBefore := en.count(memstore.OpPutPart)
			if err := writeSequentiallyFrom(f, data, c.changeAt); err != nil {
				t.Fatal(err)
			}
			en.waitPartsSent(f)
			if n := en.count(memstore.OpPutPart); n <= sentBefore {
				t.Errorf("no part left after the attributes were set (%d before, %d after)", sentBefore, n)
			}
			en.save(f)
			got, gotMeta, _, _ := en.store.Object("doc")
			if !bytes.Equal(got, data) {
				t.Errorf("doc holds %s", diff(got, data))
			}
			if gotMeta["mode"] != "33184" {
				t.Errorf("doc's metadata %v; want the attributes set while writing", gotMeta)
			}
			if n := en.count(memstore.OpStartUpload); n != c.uploads {
				t.Errorf("%d uploads; want %d", n, c.uploads)
			}
			if n := en.count(memstore.OpCopy); n != c.copies {
				t.Errorf("%d copies; want %d", n, c.copies)
			}
			f.Drop()
			en.waitNoUploads()
			en.waitBudgetFree()
		})
	}
}
