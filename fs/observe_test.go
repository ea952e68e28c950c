package fs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/internal/memstore"
)

// opRecorder is an Observer that keeps the operations it is told of.
type opRecorder struct {
	mu  sync.Mutex
	ops []string // "op errno"
	d   []time.Duration
}

func (r *opRecorder) FuseOp(op string, errno syscall.Errno, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op+" "+ErrnoName(errno))
	r.d = append(r.d, d)
}

func (r *opRecorder) WritebackConflict(bool) {}

func (r *opRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// slowWritev answers Writev with EIO; everything else is go-fuse's default (ENOSYS).
type slowWritev struct{ fuse.RawFileSystem }

func (slowWritev) Writev(<-chan struct{}, *fuse.WriteIn, [][]byte) (uint32, fuse.Status) {
	return 0, fuse.EIO
}

// Every method of the kernel's interface that answers a request is reported once, under
// a name of its own (write and writev share one), with the errno the tree answered;
// a method go-fuse adds and observedFS does not count fails here.
func TestObservedFSReportsEveryOperation(t *testing.T) {
	rec := &opRecorder{}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	inner := slowWritev{fuse.NewDefaultRawFileSystem()}
	var wrapped fuse.RawFileSystem = &observedFS{RawFileSystem: inner, obs: rec, log: log}
	v := reflect.ValueOf(wrapped)
	iface := reflect.TypeOf((*fuse.RawFileSystem)(nil)).Elem()
	statusType := reflect.TypeOf(fuse.OK)
	passThrough := map[string]bool{"Init": true, "OnUnmount": true, "String": true, "SetDebug": true}
	names := map[string]string{}
	for i := 0; i < iface.NumMethod(); i++ {
		m := iface.Method(i)
		if passThrough[m.Name] {
			continue
		}
		args := make([]reflect.Value, m.Type.NumIn())
		for j := range args {
			at := m.Type.In(j)
			args[j] = reflect.Zero(at)
			if at.Kind() == reflect.Pointer && at.Elem().Kind() == reflect.Struct {
				args[j] = reflect.New(at.Elem())
			}
		}
		out := v.MethodByName(m.Name).Call(args)
		want := "OK"
		if n := len(out); n > 0 && out[n-1].Type() == statusType {
			want = ErrnoName(syscall.Errno(out[n-1].Interface().(fuse.Status)))
		}
		ops := rec.take()
		if len(ops) != 1 {
			t.Errorf("%s: reported %q, want one operation", m.Name, ops)
			continue
		}
		op, errno, _ := strings.Cut(ops[0], " ")
		if errno != want {
			t.Errorf("%s: reported errno %s, answered %s", m.Name, errno, want)
		}
		if other, dup := names[op]; dup && !(op == "write" && (other == "Write" || other == "Writev")) {
			t.Errorf("%s and %s both report %q", m.Name, other, op)
		}
		names[op] = m.Name
	}
	if len(names) < 35 {
		t.Errorf("only %d operations reported", len(names))
	}

	// Failures are logged at debug level with their errno and the names asked for.
	var entry fuse.EntryOut
	wrapped.Lookup(nil, &fuse.InHeader{NodeId: 1}, "missing-name", &entry)
	if out := logs.String(); !strings.Contains(out, `msg="fuse operation failed" op=lookup errno=ENOSYS node=1 name=missing-name`) {
		t.Errorf("debug log:\n%s", out)
	}
	rec.take()

	// A Writev that go-fuse will retry as Write (ENOSYS) is counted by the Write.
	plain := &observedFS{RawFileSystem: fuse.NewDefaultRawFileSystem(), obs: rec}
	plain.Writev(nil, &fuse.WriteIn{}, [][]byte{[]byte("x")})
	if ops := rec.take(); len(ops) != 0 {
		t.Errorf("Writev answering ENOSYS reported %q", ops)
	}
}

// Nobody listening: the kernel talks to the tree itself.
func TestObserveRawOnlyWhenListened(t *testing.T) {
	raw := fuse.NewDefaultRawFileSystem()
	quiet := New(memstore.New(), nil, Options{Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	if got := quiet.observeRaw(raw); got != raw {
		t.Error("observeRaw wrapped the tree with no observer and no debug log")
	}
	watched := New(memstore.New(), nil, Options{Observer: &opRecorder{}, Logger: quiet.log})
	if _, ok := watched.observeRaw(raw).(*observedFS); !ok {
		t.Error("observeRaw did not wrap the tree for an observer")
	}
	debug := New(memstore.New(), nil, Options{Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if _, ok := debug.observeRaw(raw).(*observedFS); !ok {
		t.Error("observeRaw did not wrap the tree for the debug log")
	}
}

func TestCallerOf(t *testing.T) {
	req := &fuse.Context{Caller: fuse.Caller{Owner: fuse.Owner{Uid: 1000, Gid: 100}, Pid: 4242}}
	// Node operations work on contexts derived from the request's (WithoutCancel).
	c, ok := CallerOf(context.WithoutCancel(req))
	if !ok || c != (bucket.Caller{UID: 1000, GID: 100, PID: 4242}) {
		t.Errorf("CallerOf = %+v, %v", c, ok)
	}
	if _, ok := CallerOf(context.Background()); ok {
		t.Error("CallerOf found a caller in a context of no request")
	}
	if got := openedBy(req); got == nil || *got != c {
		t.Errorf("openedBy = %v", got)
	}

	// The kernel names the thread; the caller is its process.
	tid, done := make(chan int), make(chan struct{})
	defer close(done)
	go func() {
		runtime.LockOSThread() // a thread of its own, never unlocked: it ends with the goroutine
		tid <- unix.Gettid()
		<-done
	}()
	thread := <-tid
	if thread == os.Getpid() {
		t.Skip("the goroutine ran on the main thread")
	}
	req.Pid = uint32(thread)
	if c, _ := CallerOf(req); c.PID != uint32(os.Getpid()) {
		t.Errorf("thread %d of process %d: CallerOf says pid %d", thread, os.Getpid(), c.PID)
	}
}

// callerStore records, for each ranged read, the caller its context names.
type callerStore struct {
	ObjectStore
	mu   sync.Mutex
	seen []string
}

func (s *callerStore) ReadInto(ctx context.Context, key, etag string, off int64, dst [][]byte) (int64, bucket.ObjectInfo, error) {
	c, ok := bucket.CallerFrom(ctx)
	s.mu.Lock()
	if ok {
		s.seen = append(s.seen, fmt.Sprintf("%s by %d", key, c.PID))
	} else {
		s.seen = append(s.seen, key+" by nobody")
	}
	s.mu.Unlock()
	return s.ObjectStore.ReadInto(ctx, key, etag, off, dst)
}

// The page cache fetches on contexts of its own; a read handle's fetches still name the
// process that opened it.
func TestReadsNameTheOpener(t *testing.T) {
	mem := memstore.New()
	etag, err := mem.Put(context.Background(), "f", []byte("some content"), nil, bucket.Condition{})
	if err != nil {
		t.Fatal(err)
	}
	store := &callerStore{ObjectStore: mem}
	f := New(store, nil, Options{})
	n := &fileNode{fsys: f, key: "f"}
	n.attrs.etag, n.attrs.size = etag, 12
	for _, h := range []*readHandle{
		{node: n, key: "f", etag: etag, size: 12, caller: &bucket.Caller{UID: 1000, PID: 7}},
		{node: n, key: "f", etag: etag, size: 12},
	} {
		// A cache of its own for each, so that each read fetches.
		pages, err := cache.New(1<<20, cache.Options{PageSize: 4096, NoReadAhead: true})
		if err != nil {
			t.Fatal(err)
		}
		defer pages.Close()
		f.pages = pages
		dst := make([]byte, 12)
		if _, errno := h.Read(context.Background(), dst, 0); errno != 0 {
			t.Fatal(errno)
		}
		h.Release(context.Background())
	}
	if want := []string{"f by 7", "f by nobody"}; !reflect.DeepEqual(store.seen, want) {
		t.Errorf("reads %q, want %q", store.seen, want)
	}
}
