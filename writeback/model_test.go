package writeback_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/writeback"
)

// Random sequences of writes, truncates, reads, saves, drops and reopens of one file,
// checked against a plain []byte: the file must read as the model, the saved object
// must equal it, and the engine must answer no unexpected error. The file goes through
// phases of sizes up to 1, 2, 4 or 11 MiB; with 5 MiB parts and a 15 MiB buffer, part of
// which another file written now and then holds, it spills, streams, and is saved as
// one PutObject or as a multipart upload of copied and sent parts.
//
// The seed is printed; SSECFS_SEED=<seed> replays a run.
func TestModel(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("SSECFS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("SSECFS_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (replay with SSECFS_SEED=%d)", seed, seed)
	for i, c := range []modelConfig{
		{name: "existing object", base: true},
		{name: "new file", base: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			runModel(t, seed+int64(i), seed, c)
		})
	}
}

type modelConfig struct {
	name string
	base bool // start from an existing object
}

const (
	modelOps      = 10000
	modelMaxSize  = 11 * MiB
	ballastPages  = 8 // of the other file
	modelReadMax  = MiB + 100
	modelWriteMax = MiB // the largest FUSE write
)

// modelPhases are the sizes a file keeps under for a while.
var modelPhases = []int64{MiB, 2 * MiB, 4 * MiB, modelMaxSize}

func runModel(t *testing.T, seed, printed int64, c modelConfig) {
	en := newEnv(t, func(cfg *writeback.Config) {
		cfg.PartSize = 5 * MiB
		cfg.WriteBuffer = 3 * cfg.PartSize // the least the mount allows
	})
	r := rand.New(rand.NewPCG(uint64(seed), 0x6d6f64656c))
	pool := randBytes(r, 2*MiB) // writes take their bytes from here
	readBuf := make([]byte, modelReadMax)
	const key = "model"

	var (
		model      = make([]byte, 0, modelMaxSize) // what the file holds
		savedModel []byte                          // what the object holds (nil: no object)
		f          *writeback.File
		op         int
		history    []string // the latest operations, for a failure message
	)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: op %d: %s\n(run seed %d of SSECFS_SEED=%d; latest operations, oldest first:\n  %s)",
			seed, op, fmt.Sprintf(format, args...), seed, printed, strings.Join(history, "\n  "))
	}
	logOp := func(format string, args ...any) {
		if len(history) == 20 {
			history = history[1:]
		}
		history = append(history, fmt.Sprintf("%d: ", op)+fmt.Sprintf(format, args...))
	}
	// The file's attributes are a version number, set now and then (as cp -a sets
	// times and mode before closing); the object must hold the latest saved.
	metaV, savedMetaV := 0, -1 // -1: the object has none of ours
	meta := func() map[string]string { return map[string]string{"mode": "0644", "v": strconv.Itoa(metaV)} }
	checkSaved := func() {
		t.Helper()
		data, objMeta, _, ok := en.store.Object(key)
		switch {
		case ok != (savedModel != nil):
			fail("the object exists: %v; want %v", ok, savedModel != nil)
		case ok && !bytes.Equal(data, savedModel):
			fail("the object holds %s", diff(data, savedModel))
		case ok && savedMetaV >= 0 && objMeta["v"] != strconv.Itoa(savedMetaV):
			fail("the object's attributes are version %q; want %d", objMeta["v"], savedMetaV)
		}
	}
	open := func() {
		if info, err := en.store.Head(ctx, key); err == nil {
			f = en.e.Open(key, info.ETag, info.Size, meta)
		} else {
			f = en.e.Open(key, "", 0, meta)
		}
		model = append(model[:0], savedModel...)
	}

	// Another file holds part of the buffer, rewritten now and then (so its pages
	// come back from the spill file), never saved.
	ballast := en.open("ballast")
	ballast.KeepForReads() // it must not stream: it is rewritten anywhere
	ballastModel := make([]byte, ballastPages*wp)
	writeBallast := func(off int64, n int) {
		data := pool[r.IntN(len(pool)-n):][:n]
		if err := ballast.Write(ctx, data, off); err != nil {
			fail("write of the other file: %v", err)
		}
		copy(ballastModel[off:], data)
	}
	for i := range int64(ballastPages) {
		writeBallast(i*wp, wp)
	}

	if c.base {
		savedModel = randBytes(r, r.IntN(modelMaxSize))
		en.put(key, savedModel)
	}
	open()

	var streamed, spilled, multipart, saves, headWrites, metaSets int
	limit := int64(modelMaxSize)
	for op = 0; op < modelOps; op++ {
		size := int64(len(model))
		if f.Size() != size {
			fail("size %d, want %d", f.Size(), size)
		}
		floor := writeback.StreamFloor(f) * wp // bytes gone to S3 while streaming
		if floor > 0 {
			streamed++
		}
		if _, s := writeback.Pages(f); s > 0 {
			spilled++
		}
		if free := writeback.BudgetFree(en.e); free < -en.cfg.PartSize-2*wp {
			fail("the write budget is %d KiB over its limit", -free/KiB)
		}
		if op%500 == 0 {
			limit = modelPhases[r.IntN(len(modelPhases))]
		}

		switch x := r.IntN(1000); {
		case x < 430: // write
			off, n := modelWriteRange(r, size, limit)
			data := pool[r.IntN(len(pool)-n):][:n]
			logOp("write [%d, %d) (size %d, streamed below %d)", off, off+int64(n), size, floor)
			// Below the floor, only the first part can be written again, once it
			// is back from its upload (Write waits for that).
			head := writeback.StreamPartPages(en.e, 1) * wp
			reachable := off >= floor || off+int64(n) <= head || floor == head
			err := f.Write(ctx, data, off)
			if !reachable {
				if !errors.Is(err, writeback.ErrBehindStream) {
					fail("write of [%d, %d) below the streamed %d (first part %d): %v; want ErrBehindStream",
						off, off+int64(n), floor, head, err)
				}
				continue
			}
			if err != nil {
				fail("write of [%d, %d): %v", off, off+int64(n), err)
			}
			if off < floor {
				headWrites++
			}
			if end := off + int64(n); end > size {
				model = grow(model, end)
			}
			copy(model[off:], data)

		case x < 480: // truncate
			var to int64
			switch y := r.IntN(6); {
			case y < 2:
				to = max(0, min(size, limit)-r.Int64N(2*MiB))
			case y < 4:
				to = r.Int64N(limit + 1)
			case y < 5:
				to = 0
			default:
				to = min(limit, size+r.Int64N(3*MiB))
			}
			logOp("truncate to %d (size %d, streamed below %d)", to, size, floor)
			err := f.Truncate(to)
			// Below the floor, only when nothing but the first part has left
			// (the file then gives up streaming).
			if to < floor && floor != writeback.StreamPartPages(en.e, 1)*wp {
				if !errors.Is(err, writeback.ErrBehindStream) {
					fail("truncate to %d below the streamed %d: %v; want ErrBehindStream", to, floor, err)
				}
				continue
			}
			if err != nil {
				fail("truncate to %d: %v", to, err)
			}
			model = grow(model[:min(to, size)], to)

		case x < 930: // read
			off := r.Int64N(size + MiB)
			if r.IntN(3) == 0 { // across a page boundary
				off = max(0, r.Int64N(size/wp+1)*wp-r.Int64N(8*KiB))
			}
			n := 1 + r.IntN(16*KiB)
			if r.IntN(20) == 0 {
				n = 1 + r.IntN(modelReadMax)
			}
			buf := readBuf[:n]
			head := writeback.WaitHead(f) * wp // the first part is readable once back
			got, err := f.ReadAt(ctx, buf, off)
			want := []byte(nil)
			if off < size {
				want = model[off:min(off+int64(n), size)]
			}
			if len(want) > 0 && off < floor && !(off+int64(len(want)) <= head || floor == head) {
				var streamedRange writeback.StreamedRange
				if !errors.As(err, &streamedRange) {
					fail("read of [%d, %d) below the streamed %d: %d, %v; want StreamedRange", off, off+int64(n), floor, got, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(buf[:got], want) {
				fail("read of %d at %d (size %d): %d bytes, %v; %s", n, off, size, got, err, diffAt(buf[:got], want, off))
			}

		case x < 955: // the other file is written
			writeBallast(r.Int64N(ballastPages*wp-modelWriteMax), 1+r.IntN(modelWriteMax))

		case x < 958: // save
			logOp("save (size %d, dirty %v, streamed below %d)", size, f.Dirty(), floor)
			dirty := f.Dirty()
			if dirty && size > en.cfg.PartSize && floor == 0 {
				multipart++
			}
			saves++
			s, err := f.Save(ctx)
			if err != nil {
				fail("save: %v", err)
			}
			if (s.ETag != "") != dirty || (dirty && s.Size != size) {
				fail("save answered %+v for a file of %d bytes, dirty %v", s, size, dirty)
			}
			if dirty {
				savedModel = append([]byte{}, model...)
				savedMetaV = metaV
			}
			checkSaved()
			if f.Dirty() || f.SaveFailed() || writeback.Streaming(f) {
				fail("after the save: dirty %v, failed %v, streaming %v", f.Dirty(), f.SaveFailed(), writeback.Streaming(f))
			}

		case x < 964: // keep for reads from now on
			logOp("keep for reads")
			f.KeepForReads()

		case x < 970: // drop the unsaved changes and reopen from the object
			logOp("drop and reopen (size %d, dirty %v)", size, f.Dirty())
			f.Drop()
			open()

		case x < 973: // a save that changes no byte
			logOp("mark dirty")
			f.MarkDirty()

		case x < 974: // rewritten from the start, front to back (as by cp): it streams
			to := 10*MiB + r.Int64N(modelMaxSize-10*MiB)
			logOp("rewrite of %d bytes from 0 (size %d, streamed below %d)", to, size, floor)
			if err := f.Truncate(0); floor > 0 && floor != writeback.StreamPartPages(en.e, 1)*wp {
				if !errors.Is(err, writeback.ErrBehindStream) {
					fail("truncate to 0 below the streamed %d: %v; want ErrBehindStream", floor, err)
				}
				continue
			} else if err != nil {
				fail("truncate to 0: %v", err)
			}
			model = model[:0]
			for off := int64(0); off < to; off += 128 * KiB {
				n := min(128*KiB, to-off)
				data := pool[r.IntN(len(pool)-int(n)):][:n]
				if err := f.Write(ctx, data, off); err != nil {
					fail("write of [%d, %d) while rewriting: %v", off, off+n, err)
				}
				model = append(model, data...)
			}

		case x < 980: // attributes set while the file has unsaved changes (else fs copies the object)
			if f.Dirty() {
				metaV++
				logOp("attributes set (version %d; size %d, streamed below %d)", metaV, size, floor)
				f.MetaChanged()
				metaSets++
			}
		}
	}

	logOp("final save")
	dirty := f.Dirty()
	if _, err := f.Save(ctx); err != nil {
		fail("save: %v", err)
	}
	if dirty {
		savedModel = append([]byte{}, model...)
		savedMetaV = metaV
	}
	checkSaved()
	f.Drop()
	if got := readAll(t, ballast); !bytes.Equal(got, ballastModel) {
		fail("the other file reads %s", diff(got, ballastModel))
	}
	ballast.Drop()
	en.waitNoUploads()
	en.waitBudgetFree()
	if n := en.basesOpen.Load(); n != 0 {
		fail("%d bases left open", n)
	}
	t.Logf("seed %d: %d ops; streaming during %d, pages sealed during %d, %d saves, %d multipart saves of edits, %d writes into a first part already sent, attributes set %d times",
		seed, modelOps, streamed, spilled, saves, multipart, headWrites, metaSets)
}

// modelWriteRange picks where the next write goes, below limit: mostly appends (so that
// the file streams), and else anywhere, across page boundaries, past the end (leaving
// holes).
func modelWriteRange(r *rand.Rand, size, limit int64) (int64, int) {
	var off int64
	n := 1 + r.IntN(128*KiB)
	switch y := r.IntN(20); {
	case y < 9: // append
		off = size
	case y < 13: // a few bytes anywhere in the file
		off = r.Int64N(size + 1)
		n = 1 + r.IntN(4*KiB)
	case y < 16: // across a page boundary
		off = max(0, (size/wp)*wp-r.Int64N(100))
		if size > wp && r.IntN(2) == 0 {
			off = max(0, r.Int64N(size/wp)*wp-r.Int64N(100))
		}
		n = 1 + r.IntN(300)
	case y < 18: // up to a whole FUSE write anywhere, maybe past the end
		off = r.Int64N(limit)
		n = 1 + r.IntN(modelWriteMax)
	default: // near the end
		off = max(0, size-r.Int64N(64*KiB))
	}
	n = int(min(int64(n), limit))
	if end := off + int64(n); end > limit {
		off = max(0, limit-int64(n))
	}
	return off, n
}

// grow extends b with zeros to n bytes, within its capacity if it can (an allocation of
// megabytes costs much under -race).
func grow(b []byte, n int64) []byte {
	old := len(b)
	if n <= int64(cap(b)) {
		b = b[:n]
	} else {
		b = append(b, make([]byte, n-int64(len(b)))...)
	}
	clear(b[old:])
	return b
}
