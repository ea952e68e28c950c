package integration

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestRenamesRaceReadsWritesAndFlushes renames files and directories of one mount (the
// -race binary) back and forth while other goroutines open, read, write, fsync and close
// the same files by whatever name they have at the moment. A rename moves the object
// key that reads, writes and saves use; the race detector of the mount must report
// nothing (the fixture fails the test on any report), no operation may fail other than
// with ENOENT (the name moved away), and no file may be lost or doubled: when all stop,
// the mount and the bucket hold exactly the files it started with, each readable, whole,
// and the same through the mount as in S3.
//
// Bounded by operation count (SSECFS_STRESS_SCALE multiplies it); the schedule comes from
// the seed printed at the start (SSECFS_SEED=N replays it).
func TestRenamesRaceReadsWritesAndFlushes(t *testing.T) {
	seed := envSeed(t, "SSECFS_SEED")
	t.Logf("seed %d (replay: SSECFS_SEED=%d)", seed, seed)
	f := newFixture(t)
	logFile := filepath.Join(f.dir, "ssecfs.log")
	mp := f.mount("--log-file", logFile)
	t.Cleanup(func() {
		if t.Failed() {
			if log, err := os.ReadFile(logFile); err == nil && len(log) > 0 {
				t.Logf("ssecfs log (tail):\n%s", logTail(string(log), 6000))
			}
		}
	})

	// Two directories, each with files a0..a3 that have a second name b0..b3 to swap
	// with; the directories swap between d and e names.
	const dirs, files = 2, 4
	for d := range dirs {
		dir := filepath.Join(mp, fmt.Sprintf("d%d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range files {
			data := randomBytes(64<<10+i*200<<10, seed+uint64(d*files+i))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("a%d", i)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Every name a file may have now.
	candidates := func(r *rand.Rand) string {
		dir := []string{"d", "e"}[r.IntN(2)] + fmt.Sprint(r.IntN(dirs))
		name := []string{"a", "b"}[r.IntN(2)] + fmt.Sprint(r.IntN(files))
		return filepath.Join(mp, dir, name)
	}

	ops := stressScaled(t, 150)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		done     atomic.Int64
	)
	fail := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf("%s: %v", what, err))
		}
	}
	// allowed are the errors a name moving away explains.
	allowed := func(err error) bool {
		return err == nil || errors.Is(err, syscall.ENOENT)
	}
	worker := func(id int, op func(r *rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(id)))
			for range ops {
				op(r)
				done.Add(1)
			}
		}()
	}
	// File renames: a swaps to b and back within its directory.
	for w := range 2 {
		worker(w, func(r *rand.Rand) {
			from := candidates(r)
			base := filepath.Base(from)
			other := map[byte]string{'a': "b", 'b': "a"}[base[0]] + base[1:]
			to := filepath.Join(filepath.Dir(from), other)
			if _, err := os.Stat(to); err == nil {
				return // never rename over another file: that would lose one
			}
			if err := os.Rename(from, to); !allowed(err) {
				fail("rename "+from, err)
			}
		})
	}
	// Directory renames: dN swaps to eN and back.
	worker(2, func(r *rand.Rand) {
		n := r.IntN(dirs)
		from, to := filepath.Join(mp, fmt.Sprintf("d%d", n)), filepath.Join(mp, fmt.Sprintf("e%d", n))
		if r.IntN(2) == 0 {
			from, to = to, from
		}
		if _, err := os.Stat(to); err == nil {
			return
		}
		if err := os.Rename(from, to); !allowed(err) {
			fail("rename dir "+from, err)
		}
	})
	// Readers read whole files.
	for w := range 2 {
		worker(10+w, func(r *rand.Rand) {
			p := candidates(r)
			fh, err := os.Open(p)
			if err != nil {
				if !allowed(err) {
					fail("open "+p, err)
				}
				return
			}
			defer fh.Close()
			if _, err := io.Copy(io.Discard, fh); !allowed(err) {
				fail("read "+p, err)
			}
		})
	}
	// Writers change a few bytes in place and close (a save), some with an fsync first
	// or a read back through the same handle.
	for w := range 2 {
		worker(20+w, func(r *rand.Rand) {
			p := candidates(r)
			fh, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				if !allowed(err) {
					fail("open for write "+p, err)
				}
				return
			}
			patch := []byte(fmt.Sprintf("<w%d>", r.IntN(1000)))
			if _, err := fh.WriteAt(patch, int64(r.IntN(60<<10))); !allowed(err) {
				fail("write "+p, err)
			}
			switch r.IntN(3) {
			case 0:
				if err := fh.Sync(); !allowed(err) {
					fail("fsync "+p, err)
				}
			case 1:
				buf := make([]byte, 4096)
				if _, err := fh.ReadAt(buf, 0); err != nil && err != io.EOF && !allowed(err) {
					fail("read back "+p, err)
				}
			}
			if err := fh.Close(); !allowed(err) {
				fail("close "+p, err)
			}
		})
	}
	wg.Wait()
	t.Logf("%d operations", done.Load())
	for _, msg := range failures {
		t.Error(msg)
	}

	// No file lost or doubled: the same number under the mount and in S3, each whole
	// (its size unchanged, since writers only patch inside it) and the same both ways.
	var names []string
	if err := filepath.Walk(mp, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			rel, _ := filepath.Rel(mp, p)
			names = append(names, rel)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if len(names) != dirs*files {
		t.Errorf("%d files under the mount after the renames, want %d: %v", len(names), dirs*files, names)
	}
	keys := bucketKeys(t, f, "")
	var objects []string
	for _, k := range keys {
		if !strings.HasSuffix(k, "/") {
			objects = append(objects, k)
		}
	}
	if len(objects) != dirs*files {
		t.Errorf("%d objects in the bucket after the renames, want %d: %v", len(objects), dirs*files, objects)
	}
	sizes := map[int]bool{}
	for i := range files {
		sizes[64<<10+i*200<<10] = true
	}
	for _, name := range names {
		through, err := os.ReadFile(filepath.Join(mp, name))
		if err != nil {
			t.Errorf("read %s: %v", name, err)
			continue
		}
		if !sizes[len(through)] {
			t.Errorf("%s has %d bytes, not one of the sizes written", name, len(through))
		}
		inS3, err := f.getObject(filepath.ToSlash(name))
		if err != nil {
			t.Errorf("get %s from S3: %v", name, err)
			continue
		}
		if string(inS3) != string(through) {
			t.Errorf("%s differs between the mount (%d bytes) and S3 (%d bytes)", name, len(through), len(inS3))
		}
	}
}
