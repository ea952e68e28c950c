package integration

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Objects written by the AWS SDK read back byte for byte through the mount, across
// page and part boundaries.
func TestReadSizes(t *testing.T) {
	f := newFixture(t)
	sizes := map[string]int{
		"empty":       0,
		"one":         1,
		"page-1":      4095,
		"eight-mib+1": 8<<20 + 1,
	}
	want := map[string][]byte{}
	for name, n := range sizes {
		want[name] = randomBytes(n, uint64(n))
		f.put(name, want[name])
	}
	want["multipart-33mib"] = randomBytes(33<<20, 33)
	f.putMultipart("multipart-33mib", want["multipart-33mib"], 5<<20)

	mp := f.mount()
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(mp, name))
		if err != nil {
			t.Errorf("reading %s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: read %d bytes that differ from the %d written", name, len(got), len(data))
		}
		st, err := os.Stat(filepath.Join(mp, name))
		if err != nil || st.Size() != int64(len(data)) {
			t.Errorf("stat %s: size %v, err %v; want %d", name, st.Size(), err, len(data))
		}
	}
}

// pread at random offsets and lengths matches the object, including reads that cross
// the end of the file.
func TestRandomOffsetReads(t *testing.T) {
	f := newFixture(t)
	data := randomBytes(8<<20+1, 7)
	f.putMultipart("random", data, 5<<20)
	mp := f.mount()

	file, err := os.Open(filepath.Join(mp, "random"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		off := r.Int64N(int64(len(data)) + 10)
		n := 1 + r.IntN(3<<20)
		if i%3 == 0 {
			n = 1 + r.IntN(4096)
		}
		buf := make([]byte, n)
		got, err := file.ReadAt(buf, off)
		end := min(off+int64(n), int64(len(data)))
		wantN := int(max(end-off, 0))
		if got != wantN || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d bytes", n, off, got, err, wantN)
		}
		if wantN > 0 && !bytes.Equal(buf[:got], data[off:end]) {
			t.Fatalf("ReadAt(%d bytes at %d) returned bytes that differ from the object", n, off)
		}
	}
}

// Several readers of one file, each with its own handle, all see the same bytes.
func TestConcurrentReaders(t *testing.T) {
	f := newFixture(t)
	data := randomBytes(12<<20+333, 11)
	f.put("shared", data)
	mp := f.mount()

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			file, err := os.Open(filepath.Join(mp, "shared"))
			if err != nil {
				errs <- err
				return
			}
			defer file.Close()
			if i%2 == 0 {
				got, err := io.ReadAll(file)
				if err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("reader %d: whole read differs (%d bytes, %v)", i, len(got), err)
				}
				return
			}
			r := rand.New(rand.NewPCG(uint64(i), 3))
			for range 50 {
				off := r.Int64N(int64(len(data)))
				buf := make([]byte, 1+r.IntN(256<<10))
				n, err := file.ReadAt(buf, off)
				if (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
					errs <- fmt.Errorf("reader %d: ReadAt at %d differs (%v)", i, off, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
