package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssecfs/ssecfs/integration/s3server"
)

// Writing files through the mount: what is written, whatever its size, offsets and open
// flags, reads back the same through the mount and with the SDK; large files stream to
// S3 within bounded memory; a server that dies during a save leaves the old object whole.
// The wp helpers below (named for the file's old name, writepath) serve other files too.

const wpMiB = 1 << 20

// Files of the sizes around S3's part limits, written with one os.WriteFile each, read
// back whole through the mount and with the SDK, encrypted with the mount's key.
func TestWriteSizesRoundTrip(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()
	for _, n := range []int{0, 1, 5*wpMiB - 1, 5 * wpMiB, 5*wpMiB + 1, 20 * wpMiB} {
		name := fmt.Sprintf("size-%d", n)
		data := randomBytes(n, uint64(n)+101)
		if err := os.WriteFile(filepath.Join(mp, name), data, 0o640); err != nil {
			t.Errorf("writing %d bytes: %v", n, err)
			continue
		}
		wpCheckAll(t, f, mp, name, data)
		if err := f.getObjectWithoutKey(name); err == nil {
			t.Errorf("%s is readable without the key", name)
		}
		head, err := wpHead(f, name)
		if err != nil {
			t.Errorf("keyed HeadObject %s: %v", name, err)
			continue
		}
		if alg := aws.ToString(head.SSECustomerAlgorithm); alg != "AES256" {
			t.Errorf("HeadObject %s: SSECustomerAlgorithm %q; want AES256", name, alg)
		}
		if got := aws.ToInt64(head.ContentLength); got != int64(n) {
			t.Errorf("HeadObject %s: ContentLength %d; want %d", name, got, n)
		}
	}
}

// A smoke test of the write path: files of the same sizes as TestWriteSizesRoundTrip,
// written with os.WriteFile, read back through the mount and with the SDK, and not
// readable without the key.
func TestWriteSmoke(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()
	for _, n := range []int{0, 1, 5<<20 - 1, 5 << 20, 5<<20 + 1, 20 << 20} {
		name := filepath.Join(mp, "f"+strconv.Itoa(n))
		data := randomBytes(n, uint64(n)+1)
		if err := os.WriteFile(name, data, 0o640); err != nil {
			t.Fatalf("write %d: %v", n, err)
		}
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("read back %d: %d bytes, %v", n, len(got), err)
		}
		obj, err := f.getObject("f" + strconv.Itoa(n))
		if err != nil || !bytes.Equal(obj, data) {
			t.Errorf("SDK read of %d: %d bytes, %v", n, len(obj), err)
		}
		if err := f.getObjectWithoutKey("f" + strconv.Itoa(n)); err == nil {
			t.Errorf("object of %d bytes readable without the key", n)
		}
	}
}

// A file being written reads back its writes before it is closed, through the writing
// handle and through a second handle opened on the same path; close saves it.
func TestReadBeforeClose(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()
	p := filepath.Join(mp, "early")
	data := randomBytes(3*wpMiB, 2)

	w, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for off := 0; off < len(data); off += 256 << 10 {
		if _, err := w.Write(data[off:min(off+256<<10, len(data))]); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
	}
	for _, r := range []struct{ off, n int }{{0, 4096}, {wpMiB - 100, 200}, {wpMiB + 12345, wpMiB}, {2 * wpMiB, wpMiB}, {3*wpMiB - 777, 777}} {
		buf := make([]byte, r.n)
		n, err := w.ReadAt(buf, int64(r.off))
		if err != nil && !(err == io.EOF && n == r.n) {
			t.Errorf("ReadAt(%d, %d) before close: %d bytes, %v", r.off, r.n, n, err)
			continue
		}
		if d := wpDiff(buf[:n], data[r.off:r.off+r.n]); d != "" {
			t.Errorf("ReadAt(%d, %d) before close: %s", r.off, r.n, d)
		}
	}
	if n, err := w.ReadAt(make([]byte, 10), int64(len(data))); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end: %d bytes, %v; want 0, EOF", n, err)
	}

	r, err := os.Open(p)
	if err != nil {
		t.Fatalf("second open before close: %v", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Errorf("reading through a second handle before close: %v", err)
	}
	if d := wpDiff(got, data); d != "" {
		t.Errorf("second handle before close: %s", d)
	}

	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// The reader opened while the file was being written still reads it after.
	mid := make([]byte, wpMiB)
	if _, err := r.ReadAt(mid, wpMiB/2); err != nil || !bytes.Equal(mid, data[wpMiB/2:wpMiB/2+wpMiB]) {
		t.Errorf("second handle after the writer closed: %v, equal %v", err, bytes.Equal(mid, data[wpMiB/2:wpMiB/2+wpMiB]))
	}
	wpCheckAll(t, f, mp, "early", data)
}

// Random writes into an existing object, some past its end, give the same bytes as the
// same writes to a local file: through the mount, before and after close, and in S3.
func TestRandomWritesMatchLocal(t *testing.T) {
	f := newFixture(t)
	orig := randomBytes(20*wpMiB, 3)
	f.put("rand", orig)
	mp := f.mount()
	local := filepath.Join(t.TempDir(), "rand")
	if err := os.WriteFile(local, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(local, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	mf, err := os.OpenFile(filepath.Join(mp, "rand"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()

	r := rand.New(rand.NewPCG(33, 44))
	for i := range 200 {
		off := r.Int64N(21 * wpMiB)
		buf := randomBytes(1+r.IntN(64<<10), uint64(i)+1000)
		if n, err := mf.WriteAt(buf, off); err != nil || n != len(buf) {
			t.Fatalf("write %d (%d bytes at %d) through the mount: %d, %v", i, len(buf), off, n, err)
		}
		if _, err := lf.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	before := make([]byte, len(want))
	if n, err := mf.ReadAt(before, 0); n != len(want) || (err != nil && err != io.EOF) {
		t.Errorf("reading the whole file before close: %d bytes, %v; want %d", n, err, len(want))
	}
	if d := wpDiff(before, want); d != "" {
		t.Errorf("read before close: %s", d)
	}
	if err := mf.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("200 random writes: file grew from %d to %d bytes", len(orig), len(want))
	wpCheckAll(t, f, mp, "rand", want)
}

// Overwrite with O_TRUNC, append with O_APPEND, and truncate up and down through an open
// handle: the mount and S3 end up with what a local file holds after the same calls.
func TestOverwriteTruncAppend(t *testing.T) {
	f := newFixture(t)
	docOrig := randomBytes(3*wpMiB+5, 4)
	bigOrig := randomBytes(12*wpMiB, 5)
	f.put("doc", docOrig)
	f.put("big", bigOrig)
	mp := f.mount()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "doc"), docOrig, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), bigOrig, 0o644); err != nil {
		t.Fatal(err)
	}

	// step applies op to the local file and to the file in the mount, then compares.
	step := func(what, name string, op func(path string) error) {
		t.Helper()
		if err := op(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s, local file: %v", what, err)
		}
		if err := op(filepath.Join(mp, name)); err != nil {
			t.Errorf("%s through the mount: %v", what, err)
		}
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s is %d bytes", what, name, len(want))
		wpCheckAll(t, f, mp, name, want)
	}

	step("O_TRUNC with shorter content", "doc", func(p string) error {
		file, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		if _, err := file.Write(randomBytes(1000, 41)); err != nil {
			file.Close()
			return err
		}
		return file.Close()
	})
	step("O_APPEND writes", "doc", func(p string) error {
		file, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		for i, n := range []int{300 << 10, 2 * wpMiB, 17} {
			if _, err := file.Write(randomBytes(n, uint64(50+i))); err != nil {
				file.Close()
				return err
			}
		}
		return file.Close()
	})
	step("ftruncate up, write, down, up", "doc", func(p string) error {
		file, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer file.Close()
		for _, op := range []func() error{
			func() error { return file.Truncate(5*wpMiB + 3) },
			func() error { _, err := file.WriteAt(randomBytes(4096, 61), 4*wpMiB); return err },
			func() error { return file.Truncate(wpMiB + 10) },
			func() error { return file.Truncate(2 * wpMiB) }, // 1 MiB+10 .. 2 MiB reads as zeros
			func() error { _, err := file.WriteAt([]byte("end"), 2*wpMiB-3); return err },
		} {
			if err := op(); err != nil {
				return err
			}
		}
		return file.Close()
	})
	step("ftruncate of a multipart-sized object down, then up", "big", func(p string) error {
		file, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer file.Close()
		if err := file.Truncate(7*wpMiB + 1); err != nil {
			return err
		}
		if err := file.Truncate(10 * wpMiB); err != nil { // 7 MiB+1 .. 10 MiB reads as zeros
			return err
		}
		if _, err := file.WriteAt(randomBytes(100, 71), 9*wpMiB); err != nil {
			return err
		}
		return file.Close()
	})
	step("truncate by path, no handle", "big", func(p string) error { return os.Truncate(p, 6*wpMiB+7) })
}

// A 100 MiB file written front to back through a 48 MiB write buffer streams to S3 while
// being written and arrives whole.
func TestStreamLargeFile(t *testing.T) {
	f := newFixture(t)
	mp := f.mount("--write-buffer", "48MiB", "--part-size", "8MiB")
	const size = 100 * wpMiB
	start := time.Now()
	sum, err := wpStream(filepath.Join(mp, "stream.bin"), size, 55)
	if err != nil {
		t.Fatalf("streaming %d MiB: %v", size/wpMiB, err)
	}
	t.Logf("wrote %d MiB in %v", size/wpMiB, time.Since(start).Round(time.Millisecond))

	n, s3sum, err := wpSDKSum(f, "stream.bin")
	if err != nil || n != size || s3sum != sum {
		t.Errorf("SDK read: %d bytes, sha256 %x, %v; want %d bytes, sha256 %x", n, s3sum, err, size, sum)
	}
	n, mountSum, err := wpFileSum(filepath.Join(mp, "stream.bin"))
	if err != nil || n != size || mountSum != sum {
		t.Errorf("mount read: %d bytes, sha256 %x, %v; want %d bytes, sha256 %x", n, mountSum, err, size, sum)
	}
	if ups := wpUploads(t, f, "stream.bin"); len(ups) != 0 {
		t.Errorf("%d multipart uploads of stream.bin left open after a successful close", len(ups))
	}
}

// Streaming a file five times the write buffer keeps the memory of the process bounded
// by the buffer, the parts in flight and the cache, not by the file. This measures a
// build without the race detector, as users run it: the -race binary of the other tests
// keeps shadow memory for every heap byte it touches, which multiplies the heap (about
// 3x here) rather than adding a constant a baseline could subtract.
func TestPeakMemoryWhileStreaming(t *testing.T) {
	const (
		writeBuffer = 32 * wpMiB
		partSize    = 8 * wpMiB
		cacheSize   = 32 * wpMiB
		concurrency = 4 // --upload-concurrency default
		size        = 5 * writeBuffer
	)
	f := newFixture(t)
	bin := filepath.Join(t.TempDir(), "ssecfs") // pidsServing finds processes named ssecfs
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/ssecfs").CombinedOutput(); err != nil {
		t.Fatalf("building ssecfs without -race: %v\n%s", err, out)
	}
	mp := wpMountBinary(f, bin, "--write-buffer", "32MiB", "--part-size", "8MiB", "--cache-size", "32MiB")
	pids := pidsServing(mp)
	if len(pids) != 1 {
		t.Fatalf("found %d processes serving the mount; want 1", len(pids))
	}
	pid := pids[0]
	baseline := wpProcKB(t, pid, "VmRSS") * 1024
	startHWM := wpProcKB(t, pid, "VmHWM") * 1024
	// Forget the peak of start-up (checks, TLS): only streaming counts. Linux >= 4.0.
	reset := os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0) == nil
	t.Logf("after mount: VmRSS %d MiB, VmHWM %d MiB (peak reset: %v)", baseline/wpMiB, startHWM/wpMiB, reset)

	start := time.Now()
	sum, err := wpStream(filepath.Join(mp, "big.bin"), size, 66)
	if err != nil {
		t.Fatalf("streaming %d MiB: %v", size/wpMiB, err)
	}
	elapsed := time.Since(start)
	peak := wpProcKB(t, pid, "VmHWM") * 1024
	bound := int64(writeBuffer + cacheSize + 150*wpMiB)
	growthBound := int64(writeBuffer + concurrency*partSize + 64*wpMiB)
	t.Logf("peak RSS while streaming %d MiB with --write-buffer 32MiB: %d MiB (baseline %d MiB); growth %d MiB; bounds: peak < %d MiB, growth < %d MiB; took %v",
		size/wpMiB, peak/wpMiB, baseline/wpMiB, (peak-baseline)/wpMiB, bound/wpMiB, growthBound/wpMiB, elapsed.Round(time.Millisecond))
	if peak >= bound {
		t.Errorf("peak RSS %d MiB >= write-buffer + cache-size + 150 MiB = %d MiB", peak/wpMiB, bound/wpMiB)
	}
	if peak-baseline >= growthBound {
		t.Errorf("peak RSS grew by %d MiB over the baseline >= write-buffer + %d x part-size + 64 MiB = %d MiB",
			(peak-baseline)/wpMiB, concurrency, growthBound/wpMiB)
	}

	n, s3sum, err := wpSDKSum(f, "big.bin")
	if err != nil || n != size || s3sum != sum {
		t.Errorf("SDK read: %d bytes, sha256 %x, %v; want %d bytes, sha256 %x", n, s3sum, err, size, sum)
	}
	st, err := os.Stat(filepath.Join(mp, "big.bin"))
	if err != nil || st.Size() != size {
		t.Errorf("stat through the mount: %v, %v; want %d bytes", st, err, size)
	}
}

// A server that dies while a file is being replaced makes close fail in bounded time,
// leaves the old object whole, and leaves no upload's parts behind once it is back.
func TestServerKilledDuringUpload(t *testing.T) {
	srv := s3server.StartT(t)
	f := newFixtureOn(t, srv)
	orig := randomBytes(10*wpMiB, 9)
	f.put("keep", orig)
	logFile := filepath.Join(f.dir, "log")
	mp := f.mount("--log-file", logFile)

	file, err := os.OpenFile(filepath.Join(mp, "keep"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fresh := randomBytes(30*wpMiB, 10)
	for off := 0; off < len(fresh); off += wpMiB {
		if _, err := file.Write(fresh[off : off+wpMiB]); err != nil {
			file.Close()
			t.Fatalf("write at %d MiB with the server up: %v", off/wpMiB, err)
		}
	}
	// Parts stream while the file is written: an upload of keep is open in S3 now.
	time.Sleep(time.Second)
	t.Logf("multipart uploads of keep open before the kill: %d", len(wpUploads(t, f, "keep")))
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- file.Close() }()
	select {
	case err := <-closed:
		t.Logf("close with the server down: %v, after %v", err, time.Since(start).Round(time.Millisecond))
		if err == nil {
			t.Errorf("close with the server down succeeded; want an error")
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("close with the server down did not return within 2 minutes")
	}

	restart := time.Now()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("server back at %s, after a restart of %v", time.Now().UTC().Format("15:04:05.000"), time.Since(restart).Round(time.Millisecond))
	if got, err := f.getObject("keep"); err != nil || !bytes.Equal(got, orig) {
		t.Errorf("keep after the failed save: %v, %s; want the original 10 MiB", err, wpDiff(got, orig))
	}
	// Until the kernel releases the file (asynchronously, after close), its unsaved
	// content is still the file's shared view; after, the mount shows the object.
	waitFor(t, 30*time.Second, func() bool {
		log, _ := os.ReadFile(logFile)
		return bytes.Contains(log, []byte("closing with changes that were not saved"))
	}, "the release of the file whose save failed")
	if got, err := os.ReadFile(filepath.Join(mp, "keep")); err != nil || !bytes.Equal(got, orig) {
		t.Errorf("keep through the mount after the failed save: %v, %s; want the original 10 MiB", err, wpDiff(got, orig))
	}
	// An abort that could not reach the dead server is retried in the background (every
	// 5 s): the parts must be gone soon after the server is back.
	left := wpUploads(t, f, "keep")
	t.Logf("multipart uploads of keep open right after the restart: %d", len(left))
	deadline := time.Now().Add(30 * time.Second)
	for len(left) != 0 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		left = wpUploads(t, f, "keep")
	}
	if len(left) != 0 {
		t.Errorf("%d multipart upload(s) of keep still open 30 s after the server came back: %v; the failed save's parts are left behind",
			len(left), wpUploadIDs(left))
	}
	if log, err := os.ReadFile(logFile); err == nil {
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "abort") {
				t.Logf("log: %.300s", line)
			}
		}
	}

	// Either way, the file can be written again through the same mount.
	again := randomBytes(12*wpMiB, 11)
	if err := os.WriteFile(filepath.Join(mp, "keep"), again, 0o644); err != nil {
		t.Fatalf("writing keep again after the server came back: %v", err)
	}
	wpCheckAll(t, f, mp, "keep", again)
	if after := wpUploads(t, f, "keep"); len(after) != 0 {
		t.Errorf("%d multipart uploads of keep open after a successful write", len(after))
	}
}

// wpMountBinary is fixture.mount with another build of ssecfs.
func wpMountBinary(f *fixture, bin string, extra ...string) string {
	f.t.Helper()
	mp := filepath.Join(f.dir, fmt.Sprintf("wpmnt%d", rand.IntN(1e6)))
	if err := os.Mkdir(mp, 0o755); err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append(append(append([]string{"mount"}, extra...), f.mountArgs()...), f.bucket, mp)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), f.srv.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil || !isMounted(mp) {
		f.t.Fatalf("%s mount: %v (mounted: %v)\n%s", bin, err, isMounted(mp), out)
	}
	f.t.Cleanup(func() { unmount(f.t, mp) })
	return mp
}

// wpCheckAll checks that name holds want through the mount (stat and read) and in S3
// (a keyed SDK read).
func wpCheckAll(t *testing.T, f *fixture, mp, name string, want []byte) {
	t.Helper()
	if st, err := os.Stat(filepath.Join(mp, name)); err != nil || st.Size() != int64(len(want)) {
		size := int64(-1)
		if st != nil {
			size = st.Size()
		}
		t.Errorf("stat %s through the mount: size %d, %v; want %d", name, size, err, len(want))
	}
	got, err := os.ReadFile(filepath.Join(mp, name))
	if err != nil {
		t.Errorf("reading %s through the mount: %v", name, err)
	} else if d := wpDiff(got, want); d != "" {
		t.Errorf("%s through the mount: %s", name, d)
	}
	got, err = f.getObject(name)
	if err != nil {
		t.Errorf("SDK read of %s: %v", name, err)
	} else if d := wpDiff(got, want); d != "" {
		t.Errorf("%s in S3: %s", name, d)
	}
}

var wpConflictName = regexp.MustCompile(`\.conflict-\d{8}T\d{6}\.\d{3}Z$`)

// wpStream writes size bytes of a seeded stream to a new file at path, front to back in
// 1 MiB writes, and returns their sha256 and the error of close.
func wpStream(path string, size int64, seed uint64) ([32]byte, error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	src := io.TeeReader(&wpSource{r: rand.New(rand.NewPCG(seed, seed+1)), left: size}, h)
	// Hide *os.File's ReadFrom, which would write in 32 KiB pieces.
	n, err := io.CopyBuffer(struct{ io.Writer }{file}, src, make([]byte, wpMiB))
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes of %d", n, size)
	}
	if err != nil {
		file.Close()
		return [32]byte{}, err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, file.Close()
}

// wpSource is a deterministic stream of pseudo-random bytes.
type wpSource struct {
	r    *rand.Rand
	left int64
}

func (s *wpSource) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.left))
	for i := 0; i < n; i += 8 {
		v := s.r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	s.left -= int64(n)
	return n, nil
}

func wpFileSum(path string) (int64, [32]byte, error) {
	var sum [32]byte
	file, err := os.Open(path)
	if err != nil {
		return 0, sum, err
	}
	defer file.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, file, make([]byte, wpMiB))
	copy(sum[:], h.Sum(nil))
	return n, sum, err
}

// wpSDKSum reads an object with the key through the SDK and returns its size and sha256.
func wpSDKSum(f *fixture, name string) (int64, [32]byte, error) {
	var sum [32]byte
	alg, key, md := sseC(f.key)
	out, err := f.s3.GetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(f.bucket), Key: aws.String(name),
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: md,
	})
	if err != nil {
		return 0, sum, err
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	copy(sum[:], h.Sum(nil))
	return n, sum, err
}

// wpHead is a keyed HeadObject.
func wpHead(f *fixture, name string) (*s3.HeadObjectOutput, error) {
	alg, key, md := sseC(f.key)
	return f.s3.HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String(f.bucket), Key: aws.String(name),
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: md,
	})
}

func wpMeta(h *s3.HeadObjectOutput) map[string]string {
	if h == nil {
		return nil
	}
	return h.Metadata
}

// wpUploads lists the multipart uploads of key still open in the bucket.
func wpUploads(t *testing.T, f *fixture, key string) []types.MultipartUpload {
	t.Helper()
	out, err := f.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(f.bucket), Prefix: aws.String(key),
	})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	var ups []types.MultipartUpload
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) == key {
			ups = append(ups, u)
		}
	}
	return ups
}

func wpUploadIDs(ups []types.MultipartUpload) []string {
	var ids []string
	for _, u := range ups {
		ids = append(ids, aws.ToString(u.UploadId))
	}
	return ids
}

func wpDirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Errorf("listing %s: %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// wpProcKB reads a "kB" field of /proc/PID/status, such as VmRSS or VmHWM.
func wpProcKB(t *testing.T, pid, field string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s of %s: %q", field, pid, line)
			}
			return v
		}
	}
	t.Fatalf("no %s in /proc/%s/status", field, pid)
	return 0
}

// wpPatched is base with patch written at off, grown if need be.
func wpPatched(base, patch []byte, off int) []byte {
	out := append([]byte(nil), base...)
	if end := off + len(patch); end > len(out) {
		out = append(out, make([]byte, end-len(out))...)
	}
	copy(out[off:], patch)
	return out
}

// wpDiff describes how got differs from want, or "" if equal.
func wpDiff(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("%d bytes, want %d; first difference at byte %d", len(got), len(want), i)
}

// wpShort is b cut for messages.
func wpShort(b []byte) []byte {
	if len(b) > 80 {
		return append(b[:80:80], "..."...)
	}
	return b
}
