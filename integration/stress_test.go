package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestStressConcurrentRewrites hammers one mount (the -race binary) with writers that
// rewrite files in place or replace them by renaming a temporary file over them, readers
// that read whole files, listers that do what `ls -l` does, and renames of some files
// between two names, all at once on the same directory. Every version is recorded before
// its write starts, and every read is checked against the versions:
//
//   - a file only ever replaced by rename must read as exactly one whole version;
//   - a file rewritten in place may be caught mid-write, so a read must be a prefix of a
//     version, or (a reader that spanned a rewrite, as on any POSIX file system) a prefix
//     of one version continued by later versions at the same offsets: never zeros that
//     were not written, never bytes of no version.
//
// When the writers stop, every file must hold its last version whose close returned 0,
// through the mount and in S3. A read failing with ESTALE is allowed only while its file
// was being replaced, and ENOENT only while it was being renamed; any other error fails.
//
// The run is bounded by the writers' operation count (SSECFS_STRESS_SCALE multiplies it).
// The schedule (which file, which size, which content, which way) comes from the seed
// printed at the start; SSECFS_SEED=N replays it (the interleaving is the scheduler's).
func TestStressConcurrentRewrites(t *testing.T) {
	seed := stSeed(t)
	scale := stressScale(t)
	t.Logf("seed %d (replay: SSECFS_SEED=%d), scale %g", seed, seed, scale)

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

	files := stMakeFiles()
	writes := max(1, int(450*scale))
	sched := stSchedule(seed, files, writes)
	s := &stRun{t: t, mp: mp, files: files, started: time.Now()}

	// Version 0 of every file, before anything runs concurrently.
	initRng := rand.New(rand.NewPCG(seed, 0x51ed))
	for _, file := range files {
		v := s.record(file, file.sizes[initRng.IntN(len(file.sizes))], initRng.Uint64())
		err := stWriteWhole(filepath.Join(mp, file.names[0]), os.O_WRONLY|os.O_CREATE|os.O_EXCL, v)
		s.finish(file, v, err)
		if err != nil {
			t.Fatalf("writing version 0 of %s: %v", file.names[0], err)
		}
	}

	const nWriters, nReaders, nListers = 3, 3, 2
	var stop atomic.Bool
	var writers, others sync.WaitGroup
	for w := range nWriters {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := w; i < len(sched); i += nWriters {
				s.apply(w, i, sched[i])
			}
		}()
	}
	// All readers but one read only the small files, many times a second: a bad size
	// shows on a small file as well as on a big one, and a small one is read faster.
	var smallFiles []*stFile
	for _, file := range files {
		if slices.Max(file.sizes) <= stMiB+1 {
			smallFiles = append(smallFiles, file)
		}
	}
	for r := range nReaders {
		others.Add(1)
		go func() {
			defer others.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(1000+r)))
			pool := smallFiles
			if r == 0 {
				pool = files
			}
			for !stop.Load() {
				s.readOne(stPick(rng, pool))
			}
		}()
	}
	for range nListers {
		others.Add(1)
		go func() {
			defer others.Done()
			for !stop.Load() {
				s.listOnce()
			}
		}()
	}
	writers.Wait()
	stop.Store(true)
	others.Wait()
	busy := time.Since(s.started)

	// Past the kernel's attribute time, every file is its last saved version.
	time.Sleep(2 * time.Second)
	s.finalCheck(f)

	c := &s.n
	t.Logf("%v under load: writes %d in place + %d by rename + %d moves between names (%d failed); "+
		"reads %d by readers (%d whole, %d caught mid-write as a prefix, %d spanning a rewrite, %d empty) and %d by writers right after saving, "+
		"listings %d with %d stats (%d names gone before their stat)",
		busy.Round(time.Millisecond), c.inPlace.Load(), c.replaced.Load(), c.moves.Load(), c.writeFailed.Load(),
		c.reads.Load(), c.readWhole.Load(), c.readPrefix.Load(), c.readSpliced.Load(), c.readEmpty.Load(), c.readBacks.Load(),
		c.listings.Load(), c.stats.Load(), c.statGone.Load())
	t.Logf("verified %d bytes under load and %d bytes at the end (%d files through the mount and in S3)",
		c.bytesVerified.Load(), c.finalBytes.Load(), len(files))
	t.Logf("mismatches %d (final %d), stat sizes of no version %d; EIO %d; ESTALE %d allowed (file replaced while open), %d not; "+
		"ENOENT %d allowed (file renamed meanwhile), %d not; other errors %d",
		c.mismatches.Load(), c.finalMismatches.Load(), c.statSize.Load(), c.eio.Load(), c.staleOK.Load(), c.staleBad.Load(),
		c.goneOK.Load(), c.goneBad.Load(), c.otherErr.Load())
	s.report()
}

const stMiB = 1 << 20

// stFile is one logical file: it lives under names[cur] (movers have two names) and has
// the versions written to it, in the order their writes started.
type stFile struct {
	names   []string
	atomic  bool // replaced only by rename: every read is one whole version
	sizes   []int
	weight  int
	writeMu sync.Mutex // one change of this file at a time

	mu       sync.Mutex
	cur      int
	versions []*stVersion
	// changes counts the starts and ends of changes that touch the file's names: odd
	// while one is under way.
	changes uint64
}

type stVersion struct {
	n    int
	seed uint64
	size int
	sum  [32]byte
	ok   bool // the write, close (and rename) returned 0
	done bool
}

func stMakeFiles() []*stFile {
	type group struct {
		prefix  string
		n       int
		atomic  bool
		movers  int
		sizes   []int
		weight  int
		comment string
	}
	small := []int{0, 1, 4095, 100 << 10}
	groups := []group{
		{"a-small", 10, true, 2, small, 10, ""},
		{"i-small", 8, false, 2, append(slices.Clone(small), stMiB+1), 10, ""},
		{"a-med", 4, true, 0, []int{100 << 10, stMiB + 1, 5 * stMiB}, 4, ""},
		{"i-med", 4, false, 0, []int{stMiB + 1, 5 * stMiB}, 3, ""},
		{"a-big", 2, true, 0, []int{5 * stMiB, 9 * stMiB, 17 * stMiB}, 1, ""},
		{"i-big", 2, false, 0, []int{5 * stMiB, 9 * stMiB, 17 * stMiB}, 1, ""},
	}
	var files []*stFile
	for _, g := range groups {
		for i := range g.n {
			name := fmt.Sprintf("%s-%02d", g.prefix, i)
			file := &stFile{names: []string{name}, atomic: g.atomic, sizes: g.sizes, weight: g.weight}
			if i < g.movers {
				file.names = append(file.names, name+".moved")
			}
			files = append(files, file)
		}
	}
	return files
}

// stOp is one change in the writers' schedule.
type stOp struct {
	file *stFile
	move bool // rename between its two names; else a new version
	size int
	seed uint64
}

func stSchedule(seed uint64, files []*stFile, n int) []stOp {
	rng := rand.New(rand.NewPCG(seed, 0x5c4ed))
	ops := make([]stOp, n)
	for i := range ops {
		file := stPick(rng, files)
		ops[i] = stOp{file: file, size: file.sizes[rng.IntN(len(file.sizes))], seed: rng.Uint64()}
		if len(file.names) > 1 && rng.IntN(4) == 0 {
			ops[i].move = true
		}
	}
	return ops
}

// stPick chooses a file, the small ones (most weight) more often.
func stPick(rng *rand.Rand, files []*stFile) *stFile {
	total := 0
	for _, f := range files {
		total += f.weight
	}
	x := rng.IntN(total)
	for _, f := range files {
		if x -= f.weight; x < 0 {
			return f
		}
	}
	return files[len(files)-1]
}

type stCounts struct {
	inPlace, replaced, moves, writeFailed                           atomic.Int64
	reads, readWhole, readPrefix, readSpliced, readEmpty, readBacks atomic.Int64
	listings, stats, statGone, statSize                             atomic.Int64
	bytesVerified, finalBytes, mismatches, finalMismatches          atomic.Int64
	eio, staleOK, staleBad, goneOK, goneBad, otherErr, listFailed   atomic.Int64
}

type stRun struct {
	t       *testing.T
	mp      string
	files   []*stFile
	started time.Time
	n       stCounts

	mu       sync.Mutex
	failures []string
	dropped  int
}

func (s *stRun) fail(format string, args ...any) {
	msg := fmt.Sprintf("%8.3fs ", time.Since(s.started).Seconds()) + fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 40 {
		s.failures = append(s.failures, msg)
	} else {
		s.dropped++
	}
}

func (s *stRun) report() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return
	}
	more := ""
	if s.dropped > 0 {
		more = fmt.Sprintf("\n... and %d more", s.dropped)
	}
	s.t.Errorf("%d failures under concurrent rewrites (seed %d with SSECFS_STRESS_SCALE as set; replay with SSECFS_SEED):\n%s%s",
		len(s.failures)+s.dropped, stSeedValue, strings.Join(s.failures, "\n"), more)
}

// record adds a version to file before its write starts.
func (s *stRun) record(file *stFile, size int, seed uint64) *stVersion {
	data := make([]byte, size)
	stFill(data, seed, 0)
	v := &stVersion{seed: seed, size: size, sum: sha256.Sum256(data)}
	file.mu.Lock()
	v.n = len(file.versions)
	file.versions = append(file.versions, v)
	file.mu.Unlock()
	return v
}

func (s *stRun) finish(file *stFile, v *stVersion, err error) {
	file.mu.Lock()
	v.ok, v.done = err == nil, true
	file.mu.Unlock()
}

// changing marks the start or the end of a change of the file's names.
func (file *stFile) changing() {
	file.mu.Lock()
	file.changes++
	file.mu.Unlock()
}

// state is where the file is, its count of changes and a copy of its versions.
func (file *stFile) state() (name string, changes uint64, versions []*stVersion) {
	file.mu.Lock()
	defer file.mu.Unlock()
	for _, v := range file.versions {
		c := *v
		versions = append(versions, &c)
	}
	return file.names[file.cur], file.changes, versions
}

// apply runs one scheduled change.
func (s *stRun) apply(w, i int, op stOp) {
	file := op.file
	file.writeMu.Lock()
	defer file.writeMu.Unlock()
	file.mu.Lock()
	cur := file.cur
	file.mu.Unlock()
	path := filepath.Join(s.mp, file.names[cur])

	switch {
	case op.move:
		to := filepath.Join(s.mp, file.names[1-cur])
		file.changing()
		err := os.Rename(path, to)
		file.mu.Lock()
		if err == nil {
			file.cur = 1 - cur
		}
		file.changes++
		file.mu.Unlock()
		s.n.moves.Add(1)
		if err != nil {
			s.n.writeFailed.Add(1)
			s.fail("op %d: rename %s -> %s: %v", i, file.names[cur], file.names[1-cur], err)
		}

	case file.atomic:
		v := s.record(file, op.size, op.seed)
		tmp := filepath.Join(s.mp, fmt.Sprintf(".tmp-%s-%d", file.names[0], i))
		err := stWriteWhole(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, v)
		if err == nil {
			file.changing()
			if err = os.Rename(tmp, path); err != nil {
				err = fmt.Errorf("renaming over it: %w", err)
			}
			file.changing()
		}
		s.finish(file, v, err)
		s.n.replaced.Add(1)
		if err != nil {
			s.n.writeFailed.Add(1)
			s.fail("op %d: replacing %s by version %d (%d bytes) through %s: %v", i, file.names[cur], v.n, v.size, filepath.Base(tmp), err)
			os.Remove(tmp)
			return
		}
		s.readBack(file, file.names[cur], v)

	default:
		v := s.record(file, op.size, op.seed)
		file.changing()
		err := stWriteWhole(path, os.O_WRONLY|os.O_TRUNC, v)
		file.changing()
		s.finish(file, v, err)
		s.n.inPlace.Add(1)
		if err != nil {
			s.n.writeFailed.Add(1)
			s.fail("op %d: rewriting %s in place with version %d (%d bytes): %v", i, file.names[cur], v.n, v.size, err)
			return
		}
		s.readBack(file, file.names[cur], v)
	}
}

// readBack reads a file at once after its writer saved it, while nobody else may change
// it: it must be exactly the version just written. This is when a listing sent before
// the save may still come back, with the size the save replaced.
func (s *stRun) readBack(file *stFile, name string, v *stVersion) {
	data, err := os.ReadFile(filepath.Join(s.mp, name))
	s.n.readBacks.Add(1)
	switch {
	case err == nil && len(data) == v.size && sha256.Sum256(data) == v.sum:
		s.n.bytesVerified.Add(int64(len(data)))
	case err == nil:
		s.n.mismatches.Add(1)
		_, _, versions := file.state()
		s.fail("read-back of %s just after saving version %d (%d bytes): %d bytes: %s", name, v.n, v.size, len(data), stDescribe(data, versions))
	case errors.Is(err, syscall.EIO):
		s.n.eio.Add(1)
		s.fail("read-back of %s just after saving version %d: %v", name, v.n, err)
	case errors.Is(err, syscall.ESTALE):
		s.n.staleBad.Add(1)
		s.fail("read-back of %s just after saving version %d: %v, with nothing else changing it", name, v.n, err)
	case errors.Is(err, syscall.ENOENT):
		s.n.goneBad.Add(1)
		s.fail("read-back of %s just after saving version %d: %v", name, v.n, err)
	default:
		s.n.otherErr.Add(1)
		s.fail("read-back of %s just after saving version %d: %v", name, v.n, err)
	}
}

// stWriteWhole writes version v to path, opened with flags, in pieces of 64 KiB to 1 MiB
// (as cp and editors do), and closes it.
func stWriteWhole(path string, flags int, v *stVersion) error {
	data := make([]byte, v.size)
	stFill(data, v.seed, 0)
	fh, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(v.seed, 7))
	for off := 0; off < len(data); {
		n := min(len(data)-off, 64<<10+rng.IntN(stMiB-64<<10))
		if _, err := fh.Write(data[off : off+n]); err != nil {
			fh.Close()
			return fmt.Errorf("write at %d: %w", off, err)
		}
		off += n
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// readOne reads a whole file and checks what came back.
func (s *stRun) readOne(file *stFile) {
	name, before, _ := file.state()
	data, err := os.ReadFile(filepath.Join(s.mp, name))
	_, after, versions := file.state()
	changed := before%2 == 1 || after != before
	s.n.reads.Add(1)
	switch {
	case err == nil:
	case errors.Is(err, syscall.ESTALE) && changed:
		s.n.staleOK.Add(1)
		return
	case errors.Is(err, syscall.ENOENT) && changed && len(file.names) > 1:
		s.n.goneOK.Add(1)
		return
	case errors.Is(err, syscall.ESTALE):
		s.n.staleBad.Add(1)
		s.fail("read %s: %v, but nothing replaced it meanwhile", name, err)
		return
	case errors.Is(err, syscall.ENOENT):
		s.n.goneBad.Add(1)
		s.fail("read %s: %v, but nothing renamed it meanwhile", name, err)
		return
	case errors.Is(err, syscall.EIO):
		s.n.eio.Add(1)
		s.fail("read %s: %v (being changed meanwhile: %v)", name, err, changed)
		return
	default:
		s.n.otherErr.Add(1)
		s.fail("read %s: %v", name, err)
		return
	}

	if len(data) == 0 {
		s.n.readEmpty.Add(1)
	}
	if file.atomic {
		sum := sha256.Sum256(data)
		for _, v := range versions {
			if v.size == len(data) && v.sum == sum {
				s.n.readWhole.Add(1)
				s.n.bytesVerified.Add(int64(len(data)))
				return
			}
		}
		s.n.mismatches.Add(1)
		s.fail("read %s (replaced only by rename): %d bytes, no whole version: %s", name, len(data), stDescribe(data, versions))
		return
	}
	whole, spliced, at := stPrefixOf(data, versions)
	switch {
	case at >= 0:
		s.n.mismatches.Add(1)
		s.fail("read %s (rewritten in place): %d bytes, byte %d is of no version written there: %s", name, len(data), at, stDescribe(data, versions))
		return
	case spliced:
		s.n.readSpliced.Add(1)
	case whole:
		s.n.readWhole.Add(1)
	default:
		s.n.readPrefix.Add(1)
	}
	s.n.bytesVerified.Add(int64(len(data)))
}

// listOnce reads the directory and stats every entry, as ls -l does.
func (s *stRun) listOnce() {
	entries, err := os.ReadDir(s.mp)
	s.n.listings.Add(1)
	if err != nil {
		s.n.listFailed.Add(1)
		s.fail("readdir: %v", err)
		return
	}
	byName := make(map[string]*stFile)
	for _, file := range s.files {
		for _, n := range file.names {
			byName[n] = file
		}
	}
	for _, e := range entries {
		st, err := os.Lstat(filepath.Join(s.mp, e.Name()))
		s.n.stats.Add(1)
		if errors.Is(err, syscall.ENOENT) {
			s.n.statGone.Add(1) // a temporary file renamed, or a file moved, since the listing
			continue
		}
		if err != nil {
			s.n.otherErr.Add(1)
			s.fail("stat %s after readdir: %v", e.Name(), err)
			continue
		}
		file := byName[e.Name()]
		if file == nil || !file.atomic {
			continue
		}
		// A file replaced only by rename always has the size of one of its versions.
		_, _, versions := file.state()
		if !slices.ContainsFunc(versions, func(v *stVersion) bool { return int64(v.size) == st.Size() }) {
			s.n.statSize.Add(1)
			s.fail("stat %s after readdir: size %d, the size of no version (%s)", e.Name(), st.Size(), stSizes(versions))
		}
	}
}

// finalCheck reads every file through the mount and with the SDK once the writers have
// stopped: each must be its last version whose close returned 0, under its current name
// only, and nothing else (no temporary file) may be left in the bucket.
func (s *stRun) finalCheck(f *fixture) {
	var want []string
	for _, file := range s.files {
		name, _, versions := file.state()
		want = append(want, name)
		var last *stVersion
		for _, v := range versions {
			if v.ok {
				last = v
			}
		}
		if last == nil {
			s.fail("final: %s has no version that was saved", name)
			continue
		}
		check := func(where string, data []byte, err error) {
			switch {
			case err != nil:
				s.n.finalMismatches.Add(1)
				s.fail("final: %s %s: %v", name, where, err)
			case len(data) != last.size || sha256.Sum256(data) != last.sum:
				s.n.finalMismatches.Add(1)
				s.fail("final: %s %s: %d bytes, not its last saved version %d (%d bytes): %s",
					name, where, len(data), last.n, last.size, stDescribe(data, versions))
			default:
				s.n.finalBytes.Add(int64(len(data)))
			}
		}
		if st, err := os.Stat(filepath.Join(s.mp, name)); err != nil || st.Size() != int64(last.size) {
			s.n.finalMismatches.Add(1)
			s.fail("final: stat %s through the mount: %v, %v; want size %d", name, stStatSize(st), err, last.size)
		}
		data, err := os.ReadFile(filepath.Join(s.mp, name))
		check("through the mount", data, err)
		data, err = f.getObject(name)
		check("in S3 (keyed SDK read)", data, err)
	}
	slices.Sort(want)
	if got := bucketKeys(s.t, f, ""); !slices.Equal(got, want) {
		s.n.finalMismatches.Add(1)
		s.fail("final: the bucket holds %q; want exactly %q", got, want)
	}
}

// stPrefixOf checks a read of a file rewritten in place against its versions. The read
// must start as a prefix of some version; where it stops matching, a later version (a
// rewrite that overtook the reader) must go on at the same offset, and so on. It says
// whether the read was one whole version, whether it needed several, and the first
// offset no version explains (-1 if none).
func stPrefixOf(data []byte, versions []*stVersion) (whole, spliced bool, at int) {
	if len(data) == 0 {
		return slices.ContainsFunc(versions, func(v *stVersion) bool { return v.size == 0 }), false, -1
	}
	pos, from := 0, 0
	for segments := 0; pos < len(data); segments++ {
		best, bestLen := -1, 0
		for i := from; i < len(versions); i++ {
			if l := stMatchLen(data, pos, versions[i]); l > bestLen {
				best, bestLen = i, l
			}
		}
		if best < 0 {
			return false, segments > 0, pos
		}
		if segments == 0 && bestLen == len(data) {
			return versions[best].size == len(data), false, -1
		}
		pos += bestLen
		from = best + 1
	}
	return false, true, -1
}

// stMatchLen is how many bytes of data from pos are version v's bytes at the same offsets.
func stMatchLen(data []byte, pos int, v *stVersion) int {
	end := min(len(data), v.size)
	if pos >= end {
		return 0
	}
	buf := make([]byte, min(end-pos, 256<<10))
	n := 0
	for chunk := 64; pos+n < end; chunk = min(chunk*8, len(buf)) {
		part := buf[:min(chunk, end-pos-n)]
		stFill(part, v.seed, pos+n)
		if got := data[pos+n : pos+n+len(part)]; !bytes.Equal(got, part) {
			for i := range part {
				if got[i] != part[i] {
					return n + i
				}
			}
		}
		n += len(part)
	}
	return n
}

// stDescribe says how data relates to the versions: which one it starts as, for how long,
// and what follows (zeros, as when the kernel pads to an older size, or the end, as when
// it cuts at one).
func stDescribe(data []byte, versions []*stVersion) string {
	sizes := stSizes(versions)
	sum := sha256.Sum256(data)
	for _, v := range versions {
		if v.size == len(data) && v.sum == sum {
			return fmt.Sprintf("it is the whole of version %d (%d bytes); versions' sizes in order: %s", v.n, v.size, sizes)
		}
	}
	best, bestLen := -1, -1
	for i, v := range versions {
		if l := stMatchLen(data, 0, v); l > bestLen {
			best, bestLen = i, l
		}
	}
	if best < 0 {
		return "no versions (" + sizes + ")"
	}
	v := versions[best]
	msg := fmt.Sprintf("its first %d bytes are version %d (%d bytes)", bestLen, v.n, v.size)
	switch rest := data[bestLen:]; {
	case bestLen == len(data) && len(data) < v.size:
		msg += fmt.Sprintf(", cut short at %d", len(data))
	case len(rest) > 0 && bytes.Count(rest, []byte{0}) == len(rest):
		msg += fmt.Sprintf(", then %d zero bytes to %d", len(rest), len(data))
	case len(rest) > 0:
		msg += fmt.Sprintf(", then %d bytes of no version", len(rest))
	}
	return msg + "; versions' sizes in order: " + sizes
}

func stSizes(versions []*stVersion) string {
	var parts []string
	for _, v := range versions {
		p := strconv.Itoa(v.size)
		if !v.ok && v.done {
			p += "(failed)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func stStatSize(st os.FileInfo) any {
	if st == nil {
		return "no size"
	}
	return st.Size()
}

// stFill fills dst with the bytes from offset off of the version seeded by seed. Any
// range can be made on its own, so a read is checked without keeping versions in memory.
func stFill(dst []byte, seed uint64, off int) {
	i := 0
	for ; i < len(dst) && (off+i)%8 != 0; i++ {
		dst[i] = byte(stWord(seed, uint64((off+i)/8)) >> (8 * ((off + i) % 8)))
	}
	for ; i+8 <= len(dst); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], stWord(seed, uint64((off+i)/8)))
	}
	if i < len(dst) {
		w := stWord(seed, uint64((off+i)/8))
		for j := 0; i < len(dst); i, j = i+1, j+1 {
			dst[i] = byte(w >> (8 * j))
		}
	}
}

// stWord is word w of a version: splitmix64, so no word is zero by design of the test.
func stWord(seed, w uint64) uint64 {
	z := seed + (w+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// stSeedValue is the seed of this run, for messages.
var stSeedValue uint64

// stSeed is SSECFS_SEED, or a fresh seed.
func stSeed(t *testing.T) uint64 {
	stSeedValue = envSeed(t, "SSECFS_SEED")
	return stSeedValue
}
