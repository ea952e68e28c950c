package writeback_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/internal/memstore"
	"github.com/ssecfs/ssecfs/writeback"
)

// An object up to PartSize edited in the middle, at the end and past the end (the hole
// between reads as zeros) is read back as edited and saved with one PutObject.
func TestEditSmallObject(t *testing.T) {
	orig := randBytes(newRand(1), 2*MiB+17)
	for _, c := range []struct {
		name string
		off  int64
		n    int
	}{
		{"middle", MiB + 100, 3000},
		{"across a page boundary", 2*MiB - 10, 20},
		{"at the end", int64(len(orig)) - 5, 5},
		{"growing at the end", int64(len(orig)) - 5, 1000},
		{"past the end", 4*MiB + 3, 777},
	} {
		t.Run(c.name, func(t *testing.T) {
			en := newEnv(t, nil)
			etag := en.put("obj", orig)
			en.resetCounts()
			f := en.open("obj")
			data := randBytes(newRand(2), c.n)
			want := patched(orig, data, c.off)
			en.write(f, data, c.off)
			if f.Size() != int64(len(want)) || !f.Dirty() {
				t.Fatalf("after the write: size %d, dirty %v; want %d, true", f.Size(), f.Dirty(), len(want))
			}
			checkFile(t, f, want)
			saved := en.save(f)
			en.checkObject("obj", want)
			if _, _, now, _ := en.store.Object("obj"); saved.ETag != now || saved.ETag == etag || saved.Size != int64(len(want)) {
				t.Errorf("Save answered %+v; the object is %s, was %s", saved, now, etag)
			}
			if n := en.count(memstore.OpPut); n != 1 || en.count(memstore.OpStartUpload) != 0 {
				t.Errorf("%d PutObject and %d multipart uploads for a %d-byte file; want 1 and 0", n, en.count(memstore.OpStartUpload), len(want))
			}
			if f.Dirty() || f.SaveFailed() {
				t.Errorf("after the save: dirty %v, save failed %v", f.Dirty(), f.SaveFailed())
			}
			// Nothing more to save; the file now reads from the saved version.
			if again, err := f.Save(ctx); err != nil || again.ETag != "" {
				t.Errorf("a second save with nothing changed: %+v, %v", again, err)
			}
			checkFile(t, f, want)
			f.Drop()
			en.waitBudgetFree()
			if n := en.basesOpen.Load(); n != 0 {
				t.Errorf("%d bases left open after Drop", n)
			}
		})
	}
}

// An object larger than PartSize edited in places is saved as a multipart upload in
// which the untouched parts of the base are copied server-side, not read and sent.
func TestEditLargeObject(t *testing.T) {
	const size = 10*MiB + 12345 // parts of 5 MiB: 2 whole, the last 12345 bytes
	orig := randBytes(newRand(3), size)
	type edit struct {
		off int64
		n   int
	}
	for _, c := range []struct {
		name          string
		edits         []edit
		copies, sends int
		maxBaseRead   int64
	}{
		// Part 1 copied; part 2 sent (page 7 from memory, 4 MiB of the base), and the
		// last, too small to copy, read from the base (12345 bytes) like the page the
		// write covers in part (1 MiB).
		{"middle", []edit{{7*MiB + 123, 1000}}, 1, 2, MiB + 4*MiB + 12345},
		// Part 1 copied; 2 and 3 edited, the hole between the old end and the write
		// past it reading as zeros.
		{"middle, end and past the end", []edit{{7*MiB + 123, 1000}, {size - 10, 10}, {12 * MiB, 2000}}, 1, 2, MiB + 12345 + 4*MiB},
		// Every part touched: nothing to copy, every byte of the base read once.
		{"every part", []edit{{0, 1}, {5 * MiB, 1}, {10*MiB + 1, 1}}, 0, 3, size},
	} {
		t.Run(c.name, func(t *testing.T) {
			en := newEnv(t, nil)
			en.put("big", orig)
			en.resetCounts()
			f := en.open("big")
			want := bytes.Clone(orig)
			r := newRand(4)
			for _, ed := range c.edits {
				data := randBytes(r, ed.n)
				en.write(f, data, ed.off)
				want = patch(want, data, ed.off)
			}
			saved := en.save(f)
			en.checkObject("big", want)
			if saved.Size != int64(len(want)) {
				t.Errorf("Save answered size %d, want %d", saved.Size, len(want))
			}
			copies, sends := en.count(memstore.OpCopyPart), en.count(memstore.OpPutPart)
			if copies != c.copies || sends != c.sends || en.count(memstore.OpComplete) != 1 {
				t.Errorf("%d parts copied and %d sent, %d completions; want %d, %d and 1", copies, sends, en.count(memstore.OpComplete), c.copies, c.sends)
			}
			if n := en.baseBytes.Load(); n > c.maxBaseRead {
				t.Errorf("%d bytes of the base read; at most %d expected (copied parts are not read)", n, c.maxBaseRead)
			}
			if en.store.OpenUploads() != 0 {
				t.Error("a multipart upload is left open")
			}
			checkFile(t, f, want)
			f.Drop()
			en.waitBudgetFree()
		})
	}
}

// Shrinking a file and growing it again reads zeros past the cut, whether the bytes cut
// were of the base or of written pages; so does the saved object.
func TestTruncateShrinkThenGrow(t *testing.T) {
	for _, c := range []struct {
		name      string
		baseSize  int
		writes    map[int64]int // offset -> length
		cut, grow int64
	}{
		{"small base, no writes", 2*MiB + 7, nil, MiB + 3, 3 * MiB},
		{"small base, written", 2*MiB + 7, map[int64]int{MiB: 100, 2 * MiB: 5}, MiB + 50, 4*MiB + 1},
		{"large base, no writes", 7*MiB + 100, nil, 3*MiB + 500, 6 * MiB},
		{"large base, written", 7*MiB + 100, map[int64]int{3 * MiB: 1000, 5*MiB + 5: 300, 7 * MiB: 500}, 3*MiB + 500, 7*MiB + 50},
		{"large base, cut in a written page and grown past the old end", 7*MiB + 100, map[int64]int{3*MiB + 400: 200}, 3*MiB + 500, 9 * MiB},
		{"new file", 0, map[int64]int{0: 3 * MiB, 5 * MiB: 100}, 2*MiB + 1, 7 * MiB},
	} {
		t.Run(c.name, func(t *testing.T) {
			en := newEnv(t, nil)
			var want []byte
			if c.baseSize > 0 {
				want = randBytes(newRand(5), c.baseSize)
				en.put("f", want)
			}
			f := en.open("f")
			r := newRand(6)
			for off, n := range c.writes {
				data := randBytes(r, n)
				en.write(f, data, off)
				want = patch(want, data, off)
			}
			en.truncate(f, c.cut)
			want = resized(want, c.cut)
			checkFile(t, f, want)
			en.truncate(f, c.grow)
			want = resized(want, c.grow)
			checkFile(t, f, want)
			en.save(f)
			en.checkObject("f", want)
			checkFile(t, f, want)
			f.Drop()
			en.waitBudgetFree()
		})
	}
}

// A page sealed in the spill file that a shrink cuts in the middle reads as zeros past
// the cut once the file grows again.
func TestTruncateSpilledPage(t *testing.T) {
	en := newEnv(t, func(c *writeback.Config) { c.WriteBuffer = 3 * MiB })
	f := en.open("f")
	f.KeepForReads() // no streaming: the pages must stay until the save
	want := randBytes(newRand(7), 10*MiB)
	for off := 0; off < len(want); off += 256 * KiB {
		en.write(f, want[off:off+256*KiB], int64(off))
	}
	// The page to cut must be sealed, and have a sealed page after it.
	idx := int64(-1)
	for i := int64(1); i < 8; i++ {
		if writeback.Spilled(f, i) && writeback.Spilled(f, i+1) {
			idx = i
			break
		}
	}
	if idx < 0 {
		mem, spilled := writeback.Pages(f)
		t.Fatalf("no two sealed pages in a row among 10 written through a 3 MiB buffer (%d in memory, %d sealed)", mem, spilled)
	}
	cut := idx*wp + 777
	en.truncate(f, cut)
	want = want[:cut]
	en.truncate(f, 10*MiB)
	want = resized(want, 10*MiB)
	checkFile(t, f, want)
	en.save(f)
	en.checkObject("f", want)
	f.Drop()
	en.waitBudgetFree()
}

// Truncate to 0 empties a file, of a base and of pages, and the object saved.
func TestTruncateToZero(t *testing.T) {
	en := newEnv(t, nil)
	en.put("big", randBytes(newRand(8), 12*MiB))
	f := en.open("big")
	en.write(f, []byte("written"), 6*MiB)
	en.truncate(f, 0)
	if n, err := f.ReadAt(ctx, make([]byte, 10), 0); n != 0 || err != nil || f.Size() != 0 {
		t.Fatalf("an empty file reads %d bytes, %v; size %d", n, err, f.Size())
	}
	en.save(f)
	en.checkObject("big", []byte{})
	// And then written again from 0.
	en.write(f, []byte("again"), 3)
	en.save(f)
	en.checkObject("big", []byte("\x00\x00\x00again"))
	f.Drop()
	en.waitBudgetFree()
}

// A file cannot grow past 5 TiB, by truncate or write: EFBIG, and nothing changes.
func TestTooLarge(t *testing.T) {
	en := newEnv(t, nil)
	en.put("f", []byte("content"))
	f := en.open("f")
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, syscall.EFBIG) || !errors.Is(err, writeback.ErrTooLarge) {
			t.Errorf("%s: %v; want ErrTooLarge (EFBIG)", what, err)
		}
		if f.Size() != 7 || f.Dirty() {
			t.Errorf("after %s: size %d, dirty %v", what, f.Size(), f.Dirty())
		}
	}
	check("truncate to 5 TiB + 1", f.Truncate(writeback.MaxObjectSize+1))
	check("truncate to 6 TiB", f.Truncate(6<<40))
	check("write across 5 TiB", f.Write(ctx, []byte("ab"), writeback.MaxObjectSize-1))
	check("write past 5 TiB", f.Write(ctx, []byte("ab"), writeback.MaxObjectSize+10))
	// Up to 5 TiB is allowed.
	if err := f.Write(ctx, []byte("z"), writeback.MaxObjectSize-1); err != nil || f.Size() != writeback.MaxObjectSize {
		t.Errorf("write of the last byte of 5 TiB: %v, size %d", err, f.Size())
	}
	if err := f.Truncate(writeback.MaxObjectSize); err != nil {
		t.Errorf("truncate to 5 TiB: %v", err)
	}
	f.Drop()
	en.waitBudgetFree()
}

// Through a 3 MiB write buffer, a file of 12 MiB written out of order (kept for reads,
// so it cannot stream) is sealed into the spill file and read back from it, rewritten
// in places, and saved whole. The spill file is unlinked and holds no plaintext.
func TestSpillRoundTrip(t *testing.T) {
	const size = 12 * MiB
	en := newEnv(t, func(c *writeback.Config) { c.WriteBuffer = 3 * MiB })
	f := en.open("spilled")
	f.KeepForReads()
	r := newRand(9)
	marker := []byte("PLAINTEXT-MARKER")
	want := randBytes(r, size)
	for i := 0; i < size; i += 4 * KiB {
		copy(want[i:], marker)
	}
	const chunk = 64 * KiB
	minFree, sawSpilled := int64(1<<62), 0
	for _, i := range r.Perm(size / chunk) {
		off := int64(i * chunk)
		en.write(f, want[off:off+chunk], off)
		minFree = min(minFree, writeback.BudgetFree(en.e))
		if _, s := writeback.Pages(f); s > sawSpilled {
			sawSpilled = s
		}
	}
	if sawSpilled < size/wp-3 {
		t.Errorf("at most %d pages sealed in the spill file; want %d or more of %d through a 3-page buffer", sawSpilled, size/wp-3, size/wp)
	}
	// A write may bring back a page sealed meanwhile without waiting (acquireNow).
	if minFree < -2*wp {
		t.Errorf("the write budget went %d bytes over its limit", -minFree)
	}
	checkFile(t, f, want)
	// Rewrite across pages, bringing sealed ones back.
	for range 30 {
		off := r.Int64N(size - MiB)
		data := randBytes(r, 1+r.IntN(MiB)) // FUSE writes at most 1 MiB at once
		en.write(f, data, off)
		copy(want[off:], data)
	}
	for range 20 {
		off := r.Int64N(size)
		buf := make([]byte, r.IntN(2*MiB))
		n, err := f.ReadAt(ctx, buf, off)
		if err != nil || !bytes.Equal(buf[:n], want[off:min(off+int64(len(buf)), size)]) {
			t.Fatalf("read of %d at %d: %d, %v; differs", len(buf), off, n, err)
		}
	}

	// The spill file is unlinked, and the descriptor open on it holds no plaintext.
	if entries, _ := os.ReadDir(en.cfg.TempDir); len(entries) != 0 {
		t.Errorf("the temporary directory holds %v", entries)
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	found := false
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil || !strings.HasPrefix(link, en.cfg.TempDir+"/") {
			continue
		}
		found = true
		if !strings.HasSuffix(link, "(deleted)") {
			t.Errorf("the spill file %s is not unlinked", link)
		}
		raw, err := os.ReadFile(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) < (size/wp-3)*wp {
			t.Errorf("the spill file holds %d bytes", len(raw))
		}
		if bytes.Contains(raw, marker) {
			t.Error("the spill file holds plaintext")
		}
	}
	if !found {
		t.Error("no descriptor open on a file of the temporary directory: where is the spill file?")
	}

	en.resetCounts()
	en.save(f)
	en.checkObject("spilled", want)
	if n := en.count(memstore.OpPutPart); n != size/(5*MiB)+1 {
		t.Errorf("%d parts sent, want %d", n, size/(5*MiB)+1)
	}
	if mem, spilled := writeback.Pages(f); mem != 0 || spilled != 0 {
		t.Errorf("after the save, %d pages are kept in memory and %d sealed", mem, spilled)
	}
	en.waitBudgetFree()
	f.Drop()
}

// An edit of a large object through a small buffer spills too (it never streams) and
// saves the right bytes, copying the untouched parts.
func TestSpillLargeEdit(t *testing.T) {
	const size = 16 * MiB
	en := newEnv(t, func(c *writeback.Config) { c.WriteBuffer = 3 * MiB })
	want := randBytes(newRand(10), size)
	en.put("big", want)
	f := en.open("big")
	r := newRand(11)
	// Rewrite part 2 entirely, out of order, and a byte of the last part.
	for _, i := range r.Perm(40) {
		off := 5*MiB + int64(i)*128*KiB
		data := randBytes(r, 128*KiB)
		en.write(f, data, off)
		copy(want[off:], data)
	}
	en.write(f, []byte{1}, 15*MiB+1)
	want[15*MiB+1] = 1
	if _, s := writeback.Pages(f); s == 0 {
		t.Error("nothing was spilled")
	}
	checkFile(t, f, want)
	en.resetCounts()
	en.save(f)
	en.checkObject("big", want)
	if c, p := en.count(memstore.OpCopyPart), en.count(memstore.OpPutPart); c != 2 || p != 2 {
		t.Errorf("%d parts copied, %d sent; want 2 and 2", c, p)
	}
	f.Drop()
	en.waitBudgetFree()
}

// Two writes of one page race: one (A) waits for the base to fill the page it writes
// in part, while the other (B) writes the page whole, and a third write elsewhere makes
// room by sealing B's page into the spill file, in its first slot (0). A must then
// write over B's page, not over its own copy of the base.
func TestConcurrentWriteOfAPageSpilledMeanwhile(t *testing.T) {
	en := newEnv(t, func(c *writeback.Config) { c.WriteBuffer = 2 * MiB })
	orig := randBytes(newRand(12), 6*MiB)
	en.put("big", orig)
	f := en.open("big")
	other := en.open("other")

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(key string, off int64) {
		if key == "big" && off == 3*MiB {
			once.Do(func() { close(entered); <-release })
		}
	}
	en.baseHook.Store(&hook)
	aDone := make(chan error)
	go func() { aDone <- f.Write(ctx, []byte("A wrote this"), 3*MiB+100) }()
	<-entered // A holds a page of budget and waits for the base

	pageB := bytes.Repeat([]byte("B"), wp)
	en.write(f, pageB, 3*MiB)       // B: the second page of budget
	en.write(other, []byte("C"), 0) // C: no budget left, so B's page is sealed
	if !writeback.Spilled(f, 3) {
		t.Fatal("B's page was not sealed into the spill file")
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(orig)
	copy(want[3*MiB:], pageB)
	copy(want[3*MiB+100:], "A wrote this")
	checkFile(t, f, want)
	en.save(f)
	en.checkObject("big", want)
	f.Drop()
	other.Drop()
	en.waitBudgetFree()
}

// As above, but the page was sealed before A read it: A opens the sealed copy, then B
// brings the page back, rewrites it, and it is sealed again, into the very slot A read
// (slots are reused). A must see the newer copy.
func TestConcurrentWriteOfAPageResealedInTheSameSlot(t *testing.T) {
	en := newEnv(t, func(c *writeback.Config) { c.WriteBuffer = 4 * MiB })
	orig := randBytes(newRand(13), 12*MiB) // pages up to 10 are written
	en.put("big", orig)
	f := en.open("big")
	want := bytes.Clone(orig)
	// Pages 3, 8, 9, 10 fill the budget; a write to another file seals all four.
	for _, idx := range []int64{3, 8, 9, 10} {
		p := bytes.Repeat([]byte{byte(idx)}, wp)
		en.write(f, p, idx*wp)
		copy(want[idx*wp:], p)
	}
	g := en.open("g")
	en.write(g, []byte("g"), 0)
	g.Drop() // 4 pages free
	if !writeback.Spilled(f, 3) {
		t.Fatal("page 3 was not sealed")
	}

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(key string, off int64) {
		if key == "big" && off == 4*MiB {
			once.Do(func() { close(entered); <-release })
		}
	}
	en.baseHook.Store(&hook)
	// A writes across pages 3 (sealed: read from the spill) and 4 (not written:
	// filled from the base, where it waits). It holds two pages of budget.
	aData := []byte("A wrote across pages 3 and 4")
	aDone := make(chan error)
	go func() { aDone <- f.Write(ctx, aData, 4*MiB-10) }()
	<-entered

	// B rewrites a bit of page 3: it brings it back (a page of budget), freeing its slot.
	en.write(f, []byte("B"), 3*MiB+5)
	want[3*MiB+5] = 'B'
	// C takes two pages of budget for a new file: one is free, the other is made by
	// sealing page 3 again, into the slot B freed.
	h := en.open("h")
	en.write(h, make([]byte, 2*wp), 0)
	if !writeback.Spilled(f, 3) {
		t.Fatal("page 3 was not sealed again")
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	copy(want[4*MiB-10:], aData)
	checkFile(t, f, want)
	en.save(f)
	en.checkObject("big", want)
	f.Drop()
	h.Drop()
	en.waitBudgetFree()
}

// A write far past the end of an object up to PartSize (whose base is read whole at the
// first write) makes no pages of the hole between: it neither waits for buffer space
// nor fills memory or the spill file with zeros.
func TestWriteFarPastTheEndOfASmallObject(t *testing.T) {
	en := newEnv(t, nil)
	orig := randBytes(newRand(14), 100)
	en.put("small", orig)
	f := en.open("small")
	done := make(chan error, 1)
	go func() { done <- f.Write(ctx, []byte("far"), 20*MiB) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		mem, spilled := writeback.Pages(f)
		t.Fatalf("a 3-byte write at 20 MiB past a 100-byte object still waits after 15 s (%d pages in memory, %d sealed; the buffer has 16)", mem, spilled)
	}
	if mem, spilled := writeback.Pages(f); mem+spilled != 2 {
		t.Errorf("%d pages in memory and %d sealed for a write into one page of a 100-byte object; want 2 pages", mem, spilled)
	}
	want := patched(orig, []byte("far"), 20*MiB)
	checkFile(t, f, want)
	en.save(f)
	en.checkObject("small", want)
	f.Drop()
	en.waitBudgetFree()
}
