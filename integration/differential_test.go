package integration

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDifferentialRandomOps is fsx for ssecfs: a seeded random sequence of file
// operations applied both to a mount (the -race binary, with --write-buffer 24MiB, its least, so
// that unsaved pages spill now and then) and to a local directory, with every result compared after every step:
// return values, errnos, bytes read, sizes and modes, directory listings. Every 500
// operations the bucket is unmounted and mounted again, and every file is compared
// whole, through the mount and in S3. The first divergence fails with the seed, the
// operation's index and the operations before it; SSECFS_SEED=<seed> SSECFS_FSX_OPS=<n>
// replays the run up to it. SSECFS_STRESS_SCALE multiplies the number of operations.
//
// Left out, because S3 and a local disk legitimately differ there:
//   - hard links (EPERM by design), mknod of devices (EPERM), symlinks (not in this model);
//   - st_blocks (sparse files), atime, mtime and ctime (S3 keeps one time, set by whom
//     writes), st_ino, st_nlink, st_dev, and the size and link count of directories: only
//     the size and the mode (type and permissions) of a file are compared;
//   - permissions other than the mount's default file mode 0644: a listing carries no
//     metadata, so after a remount `ls -l` shows a file as 0644 until it is looked up on
//     its own (README, "What you see through the mount"); files are created 0644;
//   - a file unlinked, or replaced by a rename over it, while it is open: S3 cannot keep
//     an object that has no name, and ssecfs answers ESTALE (or saves beside it) for an
//     open file replaced under it (README). The model closes such a file's handle first.
//   - a file open write-only doing anything but growing front to back: such a file
//     streams its parts to S3 while it is written (README, "Large files stream"), so it
//     can only be written past what was sent, and another handle's read of the sent
//     range waits for the writer's close. Writes through a write-only handle go to the
//     end of the file, and a truncate or a whole-file read of it closes that handle first.
//
// At most one handle per name is open at a time, as in fsx; reopening closes it first.
func TestDifferentialRandomOps(t *testing.T) {
	seed := dfSeed(t)
	ops := dfOps(t)
	t.Logf("seed %d, %d operations (replay: SSECFS_SEED=%d SSECFS_FSX_OPS=%d)", seed, ops, seed, ops)

	f := newFixture(t)
	d := &dfRun{
		t: t, f: f, seed: seed,
		rng:     rand.New(rand.NewPCG(seed, 0xf5c)),
		local:   t.TempDir(),
		handles: make(map[string]*dfHandle),
		counts:  make(map[string]int),
	}
	d.logFile = filepath.Join(f.dir, "ssecfs.log")
	d.mp = f.mount(d.mountArgs()...)
	t.Cleanup(func() {
		d.closeAllQuietly()
		if t.Failed() {
			if log, err := os.ReadFile(d.logFile); err == nil && len(log) > 0 {
				t.Logf("ssecfs log (tail):\n%s", dfTail(string(log), 6000))
			}
		}
	})
	for _, p := range []string{d.local, d.mp} {
		if err := os.Mkdir(filepath.Join(p, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	for d.i = 0; d.i < ops; d.i++ {
		if d.i > 0 && d.i%dfRemountEvery == 0 {
			d.remount()
		}
		d.step()
	}
	d.i, d.final = ops, true
	d.remount()

	var kinds []string
	for k, n := range d.counts {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(kinds)
	t.Logf("%d operations and %d remounts in %v, no divergence; %d bytes compared; by kind: %s",
		ops, d.remounts, time.Since(start).Round(time.Millisecond), d.compared, strings.Join(kinds, ", "))
	t.Logf("at the remounts: largest file %d bytes, %d files past the part size (8 MiB), %d past two parts; %d of %d mounts spilled unsaved pages",
		d.largest, d.pastPart, d.pastTwoParts, d.spilled, d.remounts)
	if log, err := os.ReadFile(d.logFile); err == nil {
		var errs []string
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "level=ERROR") {
				errs = append(errs, line)
			}
		}
		if len(errs) > 0 {
			t.Logf("the ssecfs log has %d errors (the results matched all the same), first: %s", len(errs), errs[0])
		}
	}
}

const (
	dfRemountEvery = 500
	dfMaxSize      = 20 << 20 // writes and most truncates stay below this
	dfHugeSize     = 40 << 20 // a rare truncate goes up to this
	dfHistory      = 20
)

// dfNames are the names files live under: about four exist at a time, two in a
// subdirectory (renames cross it), and two names at the limit of NAME_MAX.
var dfNames = []string{"f0", "f1", "f2", "f3", "f4", "sub/g0", "sub/g1",
	strings.Repeat("L", 255), strings.Repeat("M", 256)}

type dfHandle struct {
	lfd, mfd int
	flags    int
}

type dfRun struct {
	t         *testing.T
	f         *fixture
	seed      uint64
	rng       *rand.Rand
	local, mp string
	logFile   string
	handles   map[string]*dfHandle

	i        int
	final    bool // the remount after the last operation
	hist     []string
	counts   map[string]int
	compared int64
	remounts int
	// What the remounts found, to show the run reached multipart saves and spilling.
	largest                         int64
	pastPart, pastTwoParts, spilled int
}

func (d *dfRun) mountArgs() []string {
	return []string{"--write-buffer", "24MiB", "--log-file", d.logFile}
}

// dfRes is what one side answered.
type dfRes struct {
	n     int
	errno syscall.Errno
	data  []byte
}

func (r dfRes) String() string {
	if r.errno != 0 {
		return fmt.Sprintf("%d, %s (%d)", r.n, r.errno, int(r.errno))
	}
	return strconv.Itoa(r.n)
}

func dfErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.Errno(0xffff) // not an errno: shown as such
}

// note records the current operation for the history and counts it.
func (d *dfRun) note(kind, format string, args ...any) {
	d.counts[kind]++
	d.hist = append(d.hist, fmt.Sprintf("#%d %s", d.i, fmt.Sprintf(format, args...)))
	if len(d.hist) > dfHistory {
		d.hist = d.hist[len(d.hist)-dfHistory:]
	}
}

// diverge fails the test with what is needed to replay it.
func (d *dfRun) diverge(format string, args ...any) {
	d.t.Helper()
	d.closeAllQuietly() // so that the mounts can be unmounted
	replay := d.i + 1
	if d.final {
		replay = d.i
	}
	d.t.Fatalf("divergence at operation %d (seed %d): %s\nreplay: SSECFS_SEED=%d SSECFS_FSX_OPS=%d go test -race -count=1 -run TestDifferentialRandomOps -v ./integration/\nlast operations (local result / mount result where shown):\n  %s",
		d.i, d.seed, fmt.Sprintf(format, args...), d.seed, replay, strings.Join(d.hist, "\n  "))
}

// same compares the two sides' answers to one call, data included.
func (d *dfRun) same(what string, l, m dfRes) {
	d.t.Helper()
	d.hist[len(d.hist)-1] += fmt.Sprintf(" -> %s / %s", l, m)
	if l.n != m.n || l.errno != m.errno {
		d.diverge("%s: local %s, mount %s", what, l, m)
	}
	if l.errno == 0 && !bytes.Equal(l.data, m.data) {
		d.diverge("%s: the bytes differ: %s", what, dfDiff(m.data, l.data))
	}
	d.compared += int64(len(l.data))
}

func (d *dfRun) paths(name string) (string, string) {
	return filepath.Join(d.local, name), filepath.Join(d.mp, name)
}

// size is the local file's size (the model's), or -1 if it does not exist.
func (d *dfRun) size(name string) int64 {
	lp, _ := d.paths(name)
	st, err := os.Stat(lp)
	if err != nil {
		return -1
	}
	return st.Size()
}

// step picks one operation, from the seed and the model's state only, and runs it.
func (d *dfRun) step() {
	r := d.rng
	name := dfNames[r.IntN(7)]
	if r.IntN(100) < 3 {
		name = dfNames[7+r.IntN(2)]
	}
	// Operations on an open file pick one of the open files.
	var open []string
	for n := range d.handles {
		open = append(open, n)
	}
	slices.Sort(open)
	// An operation on an open file picks one whose mode allows it, but now and then any
	// (EBADF is compared too). With no file open, it opens one instead.
	withHandle := func(allowed func(flags int) bool) (string, *dfHandle, bool) {
		pool := open
		if r.IntN(10) != 0 {
			pool = slices.DeleteFunc(slices.Clone(open), func(n string) bool { return !allowed(d.handles[n].flags) })
		}
		if len(pool) == 0 {
			d.open(name, d.openFlags())
			return "", nil, false
		}
		n := pool[r.IntN(len(pool))]
		return n, d.handles[n], true
	}
	anyMode := func(int) bool { return true }
	writable := func(flags int) bool { return flags&syscall.O_ACCMODE != os.O_RDONLY }
	readable := func(flags int) bool { return flags&syscall.O_ACCMODE != os.O_WRONLY }
	readWrite := func(flags int) bool { return flags&syscall.O_ACCMODE == os.O_RDWR }

	switch x := r.IntN(100); {
	case x < 12:
		d.open(name, d.openFlags())
	case x < 17:
		if n, _, ok := withHandle(anyMode); ok {
			d.note("close", "close %s", dfShort(n))
			d.closeHandle(n)
			d.checkStat(n)
		}
	case x < 39:
		if n, h, ok := withHandle(writable); ok {
			d.write(n, h)
		}
	case x < 40:
		if n, h, ok := withHandle(readWrite); ok {
			d.burst(n, h)
		}
	case x < 43:
		if n, h, ok := withHandle(writable); ok {
			d.sequential(n, h)
		}
	case x < 58:
		if n, h, ok := withHandle(readable); ok {
			d.read(n, h)
		}
	case x < 63:
		d.readWhole(name)
	case x < 71:
		d.truncate(name)
	case x < 75:
		d.rename(name, dfNames[r.IntN(7)])
	case x < 78:
		d.unlink(name)
	case x < 82:
		if n, h, ok := withHandle(anyMode); ok {
			d.note("fsync", "fsync %s", dfShort(n))
			d.same("fsync", dfRes{errno: dfErrno(syscall.Fsync(h.lfd))}, dfRes{errno: dfErrno(syscall.Fsync(h.mfd))})
			d.checkStat(n)
		}
	case x < 95:
		d.note("stat", "stat %s", dfShort(name))
		d.checkStat(name)
	default:
		d.note("readdir", "readdir / and sub")
		d.compareDirs()
	}
}

var dfFlagSets = []int{
	os.O_RDONLY, os.O_RDWR, os.O_WRONLY,
	os.O_WRONLY | os.O_APPEND, os.O_RDWR | os.O_APPEND,
	os.O_RDWR | os.O_TRUNC, os.O_WRONLY | os.O_TRUNC,
	os.O_RDWR | os.O_CREATE, os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_CREATE,
	os.O_RDWR | os.O_CREATE | os.O_EXCL, os.O_WRONLY | os.O_CREATE | os.O_TRUNC,
	os.O_RDWR | os.O_CREATE | os.O_APPEND,
}

func (d *dfRun) openFlags() int { return dfFlagSets[d.rng.IntN(len(dfFlagSets))] }

func dfFlagString(flags int) string {
	var parts []string
	switch flags & syscall.O_ACCMODE {
	case os.O_RDONLY:
		parts = append(parts, "O_RDONLY")
	case os.O_WRONLY:
		parts = append(parts, "O_WRONLY")
	default:
		parts = append(parts, "O_RDWR")
	}
	for _, f := range []struct {
		bit  int
		name string
	}{{os.O_CREATE, "O_CREAT"}, {os.O_EXCL, "O_EXCL"}, {os.O_TRUNC, "O_TRUNC"}, {os.O_APPEND, "O_APPEND"}} {
		if flags&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "|")
}

// open (re)opens name on both sides; a handle already open on it is closed first.
func (d *dfRun) open(name string, flags int) {
	if d.handles[name] != nil {
		d.note("close", "close %s (to reopen it)", dfShort(name))
		d.closeHandle(name)
	}
	d.note("open", "open %s %s", dfShort(name), dfFlagString(flags))
	lp, mp := d.paths(name)
	lfd, lerr := syscall.Open(lp, flags|syscall.O_CLOEXEC, 0o644)
	mfd, merr := syscall.Open(mp, flags|syscall.O_CLOEXEC, 0o644)
	if lerr == nil && merr == nil {
		d.handles[name] = &dfHandle{lfd: lfd, mfd: mfd, flags: flags}
	} else {
		if lerr == nil {
			syscall.Close(lfd)
		}
		if merr == nil {
			syscall.Close(mfd)
		}
	}
	d.same("open", dfRes{errno: dfErrno(lerr)}, dfRes{errno: dfErrno(merr)})
	d.checkStat(name)
}

// closeHandle closes name's handle on both sides: close reports whether a save worked.
func (d *dfRun) closeHandle(name string) {
	h := d.handles[name]
	delete(d.handles, name)
	d.same("close", dfRes{errno: dfErrno(syscall.Close(h.lfd))}, dfRes{errno: dfErrno(syscall.Close(h.mfd))})
}

func (d *dfRun) closeAllQuietly() {
	for name, h := range d.handles {
		syscall.Close(h.lfd)
		syscall.Close(h.mfd)
		delete(d.handles, name)
	}
}

// write writes at a random offset (a handle opened O_APPEND appends), mostly small
// writes within the file, sometimes past its end (a hole), sometimes megabytes.
func (d *dfRun) write(name string, h *dfHandle) {
	r := d.rng
	size := max(d.size(name), 0)
	var n int
	switch x := r.IntN(100); {
	case x < 65:
		n = 1 + r.IntN(64<<10)
	case x < 90:
		n = 64<<10 + r.IntN(1<<20)
	default:
		n = 1<<20 + r.IntN(2<<20)
	}
	var off int64
	switch x := r.IntN(100); {
	case x < 55 || size > 12<<20:
		off = r.Int64N(size + 1)
	case x < 85:
		off = max(0, size-32<<10+r.Int64N(64<<10))
	default:
		off = size + r.Int64N(2<<20)
	}
	if h.flags&os.O_APPEND != 0 || h.flags&syscall.O_ACCMODE == os.O_WRONLY {
		// Appending writes at the end; so does a write-only handle here, since such a
		// file may stream (see the test's comment).
		off = size
	}
	if off >= dfMaxSize {
		d.note("stat", "stat %s (too big to write to)", dfShort(name))
		d.checkStat(name)
		return
	}
	n = max(1, min(n, int(dfMaxSize-off)))
	data := dfData(d.seed, d.i, n)
	if h.flags&os.O_APPEND != 0 {
		d.note("write", "write %s %d bytes (O_APPEND, at the end: %d)", dfShort(name), n, size)
		ln, le := syscall.Write(h.lfd, data)
		mn, me := syscall.Write(h.mfd, data)
		d.same("write", dfRes{n: ln, errno: dfErrno(le)}, dfRes{n: mn, errno: dfErrno(me)})
	} else {
		d.note("write", "pwrite %s %d bytes at %d (size %d)", dfShort(name), n, off, size)
		ln, le := syscall.Pwrite(h.lfd, data, off)
		mn, me := syscall.Pwrite(h.mfd, data, off)
		d.same("pwrite", dfRes{n: ln, errno: dfErrno(le)}, dfRes{n: mn, errno: dfErrno(me)})
	}
	d.checkStat(name)
}

// sequential writes 1 to 4 MiB front to back at the end of the file, as cp does: a file
// that did not build on a saved version then streams its parts while it is written.
func (d *dfRun) sequential(name string, h *dfHandle) {
	size := max(d.size(name), 0)
	if size >= dfMaxSize-(1<<20) {
		d.note("stat", "stat %s (too big to append to)", dfShort(name))
		d.checkStat(name)
		return
	}
	chunks := 1 + d.rng.IntN(4)
	d.note("sequential", "pwrite %s %d x 1 MiB from its end %d", dfShort(name), chunks, size)
	for c := range chunks {
		off := size + int64(c)<<20
		if off+1<<20 > dfMaxSize {
			break
		}
		data := dfData(d.seed, d.i*8+c, 1<<20)
		ln, le := syscall.Pwrite(h.lfd, data, off)
		mn, me := syscall.Pwrite(h.mfd, data, off)
		d.same(fmt.Sprintf("pwrite of 1 MiB at %d", off), dfRes{n: ln, errno: dfErrno(le)}, dfRes{n: mn, errno: dfErrno(me)})
	}
	d.checkStat(name)
}

// burst writes 6 to 12 MiB at random offsets without saving, as a database or an
// editor rewriting many pages does: with the other open files' unsaved pages it passes
// the write buffer, and pages go to the encrypted spill file.
func (d *dfRun) burst(name string, h *dfHandle) {
	chunks := 6 + d.rng.IntN(7)
	size := max(d.size(name), 0)
	d.note("burst", "pwrite %s %d x 1 MiB at random offsets (size %d)", dfShort(name), chunks, size)
	for c := range chunks {
		off := d.rng.Int64N(max(size, 4<<20) - 1<<20) // the file grows little
		data := dfData(d.seed, d.i*32+c, 1<<20)
		ln, le := syscall.Pwrite(h.lfd, data, off)
		mn, me := syscall.Pwrite(h.mfd, data, off)
		d.same(fmt.Sprintf("pwrite of 1 MiB at %d", off), dfRes{n: ln, errno: dfErrno(le)}, dfRes{n: mn, errno: dfErrno(me)})
	}
	d.checkStat(name)
}

// read reads at a random offset through an open handle.
func (d *dfRun) read(name string, h *dfHandle) {
	r := d.rng
	size := max(d.size(name), 0)
	off := r.Int64N(size + 64<<10)
	n := 1 + r.IntN(64<<10)
	if r.IntN(4) == 0 {
		n = 1 + r.IntN(1<<20)
	}
	d.note("read", "pread %s %d bytes at %d (size %d)", dfShort(name), n, off, size)
	lb, mb := make([]byte, n), make([]byte, n)
	ln, le := syscall.Pread(h.lfd, lb, off)
	mn, me := syscall.Pread(h.mfd, mb, off)
	d.same("pread", dfRes{n: ln, errno: dfErrno(le), data: lb[:max(ln, 0)]}, dfRes{n: mn, errno: dfErrno(me), data: mb[:max(mn, 0)]})
}

// readWhole reads the whole file with one pread: through its handle if it has a
// readable one, else through a new read-only open.
func (d *dfRun) readWhole(name string) {
	d.closeWriteOnly(name)
	size := d.size(name)
	h := d.handles[name]
	if h == nil || h.flags&syscall.O_ACCMODE == os.O_WRONLY {
		d.note("readwhole", "open %s O_RDONLY, pread it whole (size %d), close", dfShort(name), size)
		lp, mp := d.paths(name)
		lfd, lerr := syscall.Open(lp, os.O_RDONLY|syscall.O_CLOEXEC, 0)
		mfd, merr := syscall.Open(mp, os.O_RDONLY|syscall.O_CLOEXEC, 0)
		var l, m dfRes
		if lerr == nil && merr == nil {
			l, m = dfPreadWhole(lfd, mfd, size)
		}
		var lc, mc error
		if lerr == nil {
			lc = syscall.Close(lfd)
		}
		if merr == nil {
			mc = syscall.Close(mfd)
		}
		d.same("open O_RDONLY", dfRes{errno: dfErrno(lerr)}, dfRes{errno: dfErrno(merr)})
		if lerr == nil && merr == nil {
			d.same("pread of the whole file", l, m)
		}
		d.same("close", dfRes{errno: dfErrno(lc)}, dfRes{errno: dfErrno(mc)})
		return
	}
	d.note("readwhole", "pread %s whole through its handle (size %d)", dfShort(name), size)
	l, m := dfPreadWhole(h.lfd, h.mfd, size)
	d.same("pread of the whole file", l, m)
}

// dfPreadWhole reads a file of size bytes whole with one pread on each side.
func dfPreadWhole(lfd, mfd int, size int64) (dfRes, dfRes) {
	lb, mb := make([]byte, size+4096), make([]byte, size+4096)
	ln, le := syscall.Pread(lfd, lb, 0)
	mn, me := syscall.Pread(mfd, mb, 0)
	return dfRes{n: ln, errno: dfErrno(le), data: lb[:max(ln, 0)]}, dfRes{n: mn, errno: dfErrno(me), data: mb[:max(mn, 0)]}
}

// truncate changes the size by path or through a writable handle: to 0, down, to the
// same size, up, or rarely far past the end.
func (d *dfRun) truncate(name string) {
	d.closeWriteOnly(name)
	r := d.rng
	size := max(d.size(name), 0)
	var to int64
	switch x := r.IntN(100); {
	case x < 15:
		to = 0
	case x < 50:
		to = r.Int64N(size + 1)
	case x < 60:
		to = size
	case x < 99:
		to = min(size+1+r.Int64N(4<<20), dfMaxSize)
	default:
		to = dfMaxSize + r.Int64N(dfHugeSize-dfMaxSize)
	}
	if h := d.handles[name]; h != nil && r.IntN(2) == 0 {
		d.note("truncate", "ftruncate %s from %d to %d", dfShort(name), size, to)
		d.same("ftruncate", dfRes{errno: dfErrno(syscall.Ftruncate(h.lfd, to))}, dfRes{errno: dfErrno(syscall.Ftruncate(h.mfd, to))})
	} else {
		d.note("truncate", "truncate %s from %d to %d", dfShort(name), size, to)
		lp, mp := d.paths(name)
		d.same("truncate", dfRes{errno: dfErrno(syscall.Truncate(lp, to))}, dfRes{errno: dfErrno(syscall.Truncate(mp, to))})
	}
	d.checkStat(name)
}

// closeWriteOnly closes name's handle if it is write-only (see the test's comment).
func (d *dfRun) closeWriteOnly(name string) {
	if h := d.handles[name]; h != nil && h.flags&syscall.O_ACCMODE == os.O_WRONLY {
		d.note("close", "close %s (write-only, so that it can be truncated or read)", dfShort(name))
		d.closeHandle(name)
	}
}

// rename moves a file; a handle open on the target is closed first (see the test's
// comment), and the source's handle follows the file.
func (d *dfRun) rename(from, to string) {
	if from != to && d.handles[to] != nil {
		d.note("close", "close %s (a rename goes over it)", dfShort(to))
		d.closeHandle(to)
	}
	d.note("rename", "rename %s -> %s", dfShort(from), dfShort(to))
	lf, mf := d.paths(from)
	lt, mt := d.paths(to)
	le, me := dfErrno(syscall.Rename(lf, lt)), dfErrno(syscall.Rename(mf, mt))
	if le == 0 && me == 0 && from != to {
		if h := d.handles[from]; h != nil {
			delete(d.handles, from)
			d.handles[to] = h
		}
	}
	d.same("rename", dfRes{errno: le}, dfRes{errno: me})
	d.checkStat(from)
	d.checkStat(to)
}

// unlink removes a file; its handle is closed first (see the test's comment).
func (d *dfRun) unlink(name string) {
	if d.handles[name] != nil {
		d.note("close", "close %s (to unlink it)", dfShort(name))
		d.closeHandle(name)
	}
	d.note("unlink", "unlink %s", dfShort(name))
	lp, mp := d.paths(name)
	d.same("unlink", dfRes{errno: dfErrno(syscall.Unlink(lp))}, dfRes{errno: dfErrno(syscall.Unlink(mp))})
	d.checkStat(name)
}

// checkStat compares stat of name (and fstat of its handle): errno, size and mode.
func (d *dfRun) checkStat(name string) {
	d.t.Helper()
	lp, mp := d.paths(name)
	var ls, ms syscall.Stat_t
	le, me := dfErrno(syscall.Stat(lp, &ls)), dfErrno(syscall.Stat(mp, &ms))
	d.sameStat("stat "+dfShort(name), le, me, &ls, &ms)
	if h := d.handles[name]; h != nil {
		le, me = dfErrno(syscall.Fstat(h.lfd, &ls)), dfErrno(syscall.Fstat(h.mfd, &ms))
		d.sameStat("fstat of the handle of "+dfShort(name), le, me, &ls, &ms)
	}
}

func (d *dfRun) sameStat(what string, le, me syscall.Errno, ls, ms *syscall.Stat_t) {
	d.t.Helper()
	if le != me {
		d.diverge("%s: local %v, mount %v", what, dfRes{errno: le}, dfRes{errno: me})
	}
	if le != 0 {
		return
	}
	if ls.Size != ms.Size || ls.Mode != ms.Mode {
		d.diverge("%s: local size %d mode %o, mount size %d mode %o", what, ls.Size, ls.Mode, ms.Size, ms.Mode)
	}
}

// compareDirs compares the listings of / and sub (names and types) and stats each entry.
func (d *dfRun) compareDirs() {
	d.t.Helper()
	for _, dir := range []string{".", "sub"} {
		lp, mp := d.paths(dir)
		le, lerr := os.ReadDir(lp)
		me, merr := os.ReadDir(mp)
		if dfErrno(lerr) != dfErrno(merr) {
			d.diverge("readdir %s: local %v, mount %v", dir, lerr, merr)
		}
		if got, want := dfEntries(me), dfEntries(le); !slices.Equal(got, want) {
			d.diverge("readdir %s: local %q, mount %q", dir, want, got)
		}
		for _, e := range le {
			if !e.IsDir() {
				d.checkStat(filepath.Join(dir, e.Name()))
			}
		}
	}
}

func dfEntries(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s(%v)", dfShort(e.Name()), e.Type()))
	}
	return out
}

// remount closes every handle, unmounts, mounts again, and compares every file whole
// through the new mount and in S3, and the bucket's keys with the local tree.
func (d *dfRun) remount() {
	d.t.Helper()
	var open []string
	for n := range d.handles {
		open = append(open, n)
	}
	slices.Sort(open)
	for _, n := range open {
		d.note("close", "close %s (before remounting)", dfShort(n))
		d.closeHandle(n)
	}
	d.note("remount", "unmount, mount again, compare every file")
	if dfSpilling(d.mp) {
		d.spilled++
	}
	unmount(d.t, d.mp)
	d.mp = d.f.mount(d.mountArgs()...)
	d.remounts++

	var want []string
	for _, dir := range []string{".", "sub"} {
		lp, _ := d.paths(dir)
		entries, err := os.ReadDir(lp)
		if err != nil {
			d.t.Fatal(err)
		}
		for _, e := range entries {
			name := filepath.Join(dir, e.Name())
			if e.IsDir() {
				want = append(want, name+"/")
				continue
			}
			want = append(want, name)
			lp, mp := d.paths(name)
			ldata, lerr := os.ReadFile(lp)
			mdata, merr := os.ReadFile(mp)
			if lerr != nil || merr != nil {
				d.diverge("reading %s whole after the remount: local %v, mount %v", dfShort(name), lerr, merr)
			}
			if !bytes.Equal(ldata, mdata) {
				d.diverge("%s after the remount: %s", dfShort(name), dfDiff(mdata, ldata))
			}
			sdata, err := d.f.getObject(name)
			if err != nil {
				d.diverge("%s in S3 after the remount: %v", dfShort(name), err)
			}
			if !bytes.Equal(ldata, sdata) {
				d.diverge("%s in S3 after the remount: %s", dfShort(name), dfDiff(sdata, ldata))
			}
			d.compared += 2 * int64(len(ldata))
			size := int64(len(ldata))
			d.largest = max(d.largest, size)
			if size > 8<<20 {
				d.pastPart++
			}
			if size > 16<<20 {
				d.pastTwoParts++
			}
		}
	}
	slices.Sort(want)
	if got := bucketKeys(d.t, d.f, ""); !slices.Equal(got, want) {
		d.diverge("after the remount the bucket holds %q; the local tree %q", dfShortAll(got), dfShortAll(want))
	}
	d.compareDirs()
}

// dfSpilling reports whether the ssecfs process serving mp has made its encrypted
// spill file (it keeps it, unlinked, until it ends).
func dfSpilling(mp string) bool {
	for _, pid := range pidsServing(mp) {
		fds, _ := filepath.Glob("/proc/" + pid + "/fd/*")
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && strings.Contains(target, "ssecfs-spill-") {
				return true
			}
		}
	}
	return false
}

// dfData is the seeded content of one write.
func dfData(seed uint64, i, n int) []byte {
	return randomBytes(n, seed^uint64(i+1)*0x9e3779b97f4a7c15)
}

// dfDiff describes how the mount's bytes differ from the local ones.
func dfDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	msg := fmt.Sprintf("mount %d bytes, local %d; first difference at byte %d", len(got), len(want), i)
	if i < len(got) {
		end := i
		for end < len(got) && got[end] == 0 {
			end++
		}
		if end > i {
			msg += fmt.Sprintf(" (the mount has %d zero bytes there)", end-i)
		}
	}
	return msg
}

// dfShort keeps the long names readable in messages.
func dfShort(name string) string {
	base := filepath.Base(name)
	if len(base) > 16 {
		return filepath.Join(filepath.Dir(name), fmt.Sprintf("%s...(%d bytes)", base[:3], len(base)))
	}
	return name
}

func dfShortAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = dfShort(n)
	}
	return out
}

func dfTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// dfSeed is SSECFS_SEED, or a fresh seed.
func dfSeed(t *testing.T) uint64 { return envSeed(t, "SSECFS_SEED") }

// dfOps is SSECFS_FSX_OPS, else 5000 times SSECFS_STRESS_SCALE (default 1).
func dfOps(t *testing.T) int {
	t.Helper()
	if v := os.Getenv("SSECFS_FSX_OPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("SSECFS_FSX_OPS=%q: want a positive number", v)
		}
		return n
	}
	return stressScaled(t, 5000)
}
