package fs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/writeback"
)

// What the tree does, for metrics and the debug log, and who asked.
//
// FUSE operations: go-fuse has no per-request hook, so Mount puts observedFS between
// the kernel and the node tree: a fuse.RawFileSystem that hands every call to the tree
// (gofs.NewNodeFS) and then tells Options.Observer the operation, its errno and its
// time, and logs each failure at debug level with its errno. It is there only when
// someone listens (an Observer, or a logger at debug level); otherwise the kernel talks
// to the tree as before.
//
// Callers: every node operation's context carries the uid, gid and thread id of the
// process that made the request (fuse.FromContext; the contexts derived with
// WithoutCancel keep it). CallerOf reads it, the thread's process from /proc, for bucket.Config.CallerOf, so each S3 request a file
// operation sends names that process. Reads go through the page cache, whose fetches
// run on contexts of its own: a read handle remembers the process that opened it and
// hands it to its fetches (readHandle.onBehalf), so its reads and read-ahead name the
// opener. Requests sent for no single process name none: a base read by the
// write-back to fill a partly written page, the parts of a file streamed while it is
// written (they leave in the background), aborts in the background.

// Observer is told of every FUSE operation (Options.Observer), and of the write-back's
// conflicts. It must be quick and safe for concurrent use.
type Observer interface {
	// FuseOp: operation op (lookup, getattr, read, write, ...) answered errno (0 for
	// success) after d.
	FuseOp(op string, errno syscall.Errno, d time.Duration)
	writeback.Observer
}

// CallerOf is the process that made the FUSE request whose context is ctx, or a
// context derived from it. It is what bucket.Config.CallerOf wants.
func CallerOf(ctx context.Context) (bucket.Caller, bool) {
	c, ok := fuse.FromContext(ctx)
	if !ok || c == nil {
		return bucket.Caller{}, false
	}
	return bucket.Caller{UID: c.Uid, GID: c.Gid, PID: processOf(c.Pid)}, true
}

// processOf is the process (thread group) of thread tid: the kernel names the thread
// that made a FUSE request, which in a program of several threads is not the pid that
// ps shows. When /proc does not say (the thread is gone, another system), it is tid.
func processOf(tid uint32) uint32 {
	if tid == 0 {
		return 0
	}
	status, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status")
	if err != nil {
		return tid
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			if pid, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil && pid != 0 {
				return uint32(pid)
			}
			break
		}
	}
	return tid
}

// openedBy is the caller of ctx, to be remembered by a handle.
func openedBy(ctx context.Context) *bucket.Caller {
	if c, ok := CallerOf(ctx); ok {
		return &c
	}
	return nil
}

// onBehalf marks ctx, a page-cache fetch's, as working for the process that opened h.
func (h *readHandle) onBehalf(ctx context.Context) context.Context {
	if h.caller == nil {
		return ctx
	}
	return bucket.WithCaller(ctx, *h.caller)
}

// WritebackStats is what the write-back holds now: memory of unsaved pages, spill,
// uploads in flight.
func (f *FS) WritebackStats() writeback.Stats { return f.writes.Stats() }

// ErrnoName is the symbolic name of errno ("ENOENT"), "OK" for 0.
func ErrnoName(errno syscall.Errno) string {
	if errno == 0 {
		return "OK"
	}
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return fmt.Sprintf("errno%d", int(errno))
}

// observeRaw puts observedFS in front of raw if anyone listens.
func (f *FS) observeRaw(raw fuse.RawFileSystem) fuse.RawFileSystem {
	var log *slog.Logger
	if f.log.Enabled(context.Background(), slog.LevelDebug) {
		log = f.log
	}
	if f.opts.Observer == nil && log == nil {
		return raw
	}
	return &observedFS{RawFileSystem: raw, obs: f.opts.Observer, log: log}
}

// observedFS is the tree's RawFileSystem, watched. Every method that answers the kernel
// is here; the rest (Init, OnUnmount, String, SetDebug) pass through the embedding.
type observedFS struct {
	fuse.RawFileSystem
	obs Observer     // nil: none
	log *slog.Logger // nil: no debug log
}

// done reports operation op on node, begun at start, which answered st. names are the
// names the request carried (a lookup's, both of a rename's), for the log.
func (o *observedFS) done(op string, start time.Time, st fuse.Status, node uint64, names ...string) {
	errno := syscall.Errno(st)
	if o.obs != nil {
		o.obs.FuseOp(op, errno, time.Since(start))
	}
	if st == fuse.OK || o.log == nil {
		return
	}
	attrs := []slog.Attr{slog.String("op", op), slog.String("errno", ErrnoName(errno)), slog.Uint64("node", node)}
	for i, n := range names {
		key := "name"
		if i > 0 {
			key = "name2"
		}
		attrs = append(attrs, slog.String(key, n))
	}
	o.log.LogAttrs(context.Background(), slog.LevelDebug, "fuse operation failed", attrs...)
}

func (o *observedFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Lookup(cancel, header, name, out)
	o.done("lookup", t, st, header.NodeId, name)
	return st
}

func (o *observedFS) Forget(nodeid, nlookup uint64) {
	t := time.Now()
	o.RawFileSystem.Forget(nodeid, nlookup)
	o.done("forget", t, fuse.OK, nodeid)
}

func (o *observedFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.GetAttr(cancel, in, out)
	o.done("getattr", t, st, in.NodeId)
	return st
}

func (o *observedFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.SetAttr(cancel, in, out)
	o.done("setattr", t, st, in.NodeId)
	return st
}

func (o *observedFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Mknod(cancel, in, name, out)
	o.done("mknod", t, st, in.NodeId, name)
	return st
}

func (o *observedFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Mkdir(cancel, in, name, out)
	o.done("mkdir", t, st, in.NodeId, name)
	return st
}

func (o *observedFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Unlink(cancel, header, name)
	o.done("unlink", t, st, header.NodeId, name)
	return st
}

func (o *observedFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Rmdir(cancel, header, name)
	o.done("rmdir", t, st, header.NodeId, name)
	return st
}

func (o *observedFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Rename(cancel, in, oldName, newName)
	o.done("rename", t, st, in.NodeId, oldName, newName)
	return st
}

func (o *observedFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Link(cancel, in, name, out)
	o.done("link", t, st, in.NodeId, name)
	return st
}

func (o *observedFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Symlink(cancel, header, target, name, out)
	o.done("symlink", t, st, header.NodeId, name)
	return st
}

func (o *observedFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) ([]byte, fuse.Status) {
	t := time.Now()
	target, st := o.RawFileSystem.Readlink(cancel, header)
	o.done("readlink", t, st, header.NodeId)
	return target, st
}

func (o *observedFS) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Access(cancel, in)
	o.done("access", t, st, in.NodeId)
	return st
}

func (o *observedFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := o.RawFileSystem.GetXAttr(cancel, header, attr, dest)
	o.done("getxattr", t, st, header.NodeId, attr)
	return n, st
}

func (o *observedFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := o.RawFileSystem.ListXAttr(cancel, header, dest)
	o.done("listxattr", t, st, header.NodeId)
	return n, st
}

func (o *observedFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.SetXAttr(cancel, in, attr, data)
	o.done("setxattr", t, st, in.NodeId, attr)
	return st
}

func (o *observedFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.RemoveXAttr(cancel, header, attr)
	o.done("removexattr", t, st, header.NodeId, attr)
	return st
}

func (o *observedFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Create(cancel, in, name, out)
	o.done("create", t, st, in.NodeId, name)
	return st
}

func (o *observedFS) Tmpfile(cancel <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Tmpfile(cancel, in, out)
	o.done("tmpfile", t, st, in.NodeId)
	return st
}

func (o *observedFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Open(cancel, in, out)
	o.done("open", t, st, in.NodeId)
	return st
}

func (o *observedFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	t := time.Now()
	res, st := o.RawFileSystem.Read(cancel, in, buf)
	o.done("read", t, st, in.NodeId)
	return res, st
}

func (o *observedFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Lseek(cancel, in, out)
	o.done("lseek", t, st, in.NodeId)
	return st
}

func (o *observedFS) GetLk(cancel <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.GetLk(cancel, in, out)
	o.done("getlk", t, st, in.NodeId)
	return st
}

func (o *observedFS) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.SetLk(cancel, in)
	o.done("setlk", t, st, in.NodeId)
	return st
}

func (o *observedFS) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.SetLkw(cancel, in)
	o.done("setlkw", t, st, in.NodeId)
	return st
}

func (o *observedFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	t := time.Now()
	o.RawFileSystem.Release(cancel, in)
	o.done("release", t, fuse.OK, in.NodeId)
}

func (o *observedFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := o.RawFileSystem.Write(cancel, in, data)
	o.done("write", t, st, in.NodeId)
	return n, st
}

// Writev is how go-fuse sends writes; it falls back to Write on ENOSYS, which then
// counts the write.
func (o *observedFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := o.RawFileSystem.Writev(cancel, in, data)
	if st != fuse.ENOSYS {
		o.done("write", t, st, in.NodeId)
	}
	return n, st
}

func (o *observedFS) CopyFileRange(cancel <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	t := time.Now()
	n, st := o.RawFileSystem.CopyFileRange(cancel, in)
	o.done("copy_file_range", t, st, in.NodeId)
	return n, st
}

func (o *observedFS) Ioctl(cancel <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Ioctl(cancel, in, inbuf, out, outbuf)
	o.done("ioctl", t, st, in.NodeId)
	return st
}

func (o *observedFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Flush(cancel, in)
	o.done("flush", t, st, in.NodeId)
	return st
}

func (o *observedFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Fsync(cancel, in)
	o.done("fsync", t, st, in.NodeId)
	return st
}

func (o *observedFS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Fallocate(cancel, in)
	o.done("fallocate", t, st, in.NodeId)
	return st
}

func (o *observedFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.OpenDir(cancel, in, out)
	o.done("opendir", t, st, in.NodeId)
	return st
}

func (o *observedFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.ReadDir(cancel, in, out)
	o.done("readdir", t, st, in.NodeId)
	return st
}

func (o *observedFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.ReadDirPlus(cancel, in, out)
	o.done("readdirplus", t, st, in.NodeId)
	return st
}

func (o *observedFS) ReleaseDir(in *fuse.ReleaseIn) {
	t := time.Now()
	o.RawFileSystem.ReleaseDir(in)
	o.done("releasedir", t, fuse.OK, in.NodeId)
}

func (o *observedFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.FsyncDir(cancel, in)
	o.done("fsyncdir", t, st, in.NodeId)
	return st
}

func (o *observedFS) StatFs(cancel <-chan struct{}, header *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.StatFs(cancel, header, out)
	o.done("statfs", t, st, header.NodeId)
	return st
}

func (o *observedFS) Statx(cancel <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	t := time.Now()
	st := o.RawFileSystem.Statx(cancel, in, out)
	o.done("statx", t, st, in.NodeId)
	return st
}
