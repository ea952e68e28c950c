package fs

import (
	"context"
	gofs "github.com/hanwen/go-fuse/v2/fs"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
)

// dirStream streams a listing to readdir one page at a time, so a huge directory
// neither waits for its whole listing nor holds it in memory twice.
type dirStream struct {
	d      *dirNode
	ctx    context.Context
	prefix string

	token   string
	done    bool
	failed  syscall.Errno
	ready   []fuse.DirEntry
	pending []bucket.Entry // objects held back: a directory of the same name may follow
	seen    map[string]listedChild
	pos     uint64 // entries handed out so far
}

func (d *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	s := &dirStream{d: d, ctx: context.WithoutCancel(ctx), prefix: d.keyPrefix()}
	s.reset()
	return s, 0
}

func (s *dirStream) reset() {
	s.token, s.done, s.failed = "", false, 0
	s.ready, s.pending, s.pos = nil, nil, 0
	s.seen = make(map[string]listedChild)
}

func (s *dirStream) HasNext() bool {
	for len(s.ready) == 0 && !s.done && s.failed == 0 {
		s.fetch()
	}
	return len(s.ready) > 0 || s.failed != 0
}

func (s *dirStream) Next() (fuse.DirEntry, syscall.Errno) {
	if len(s.ready) == 0 {
		// Report the failure once; the next HasNext asks for the same page again,
		// so a transient error does not make the directory look short or empty.
		errno := s.failed
		s.failed = 0
		return fuse.DirEntry{}, errno
	}
	e := s.ready[0]
	s.ready = s.ready[1:]
	s.pos++
	e.Off = s.pos
	return e, 0
}

func (s *dirStream) Close() {}

// Seekdir supports rewinddir and the kernel re-reading from an offset: start over and
// skip to it (the listing is not kept).
func (s *dirStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off < s.pos || off == 0 {
		s.reset()
	}
	for s.pos < off && s.HasNext() {
		if _, errno := s.Next(); errno != 0 {
			return errno
		}
	}
	return 0
}

func (s *dirStream) fetch() {
	entries, next, err := s.d.fsys.store.ListPage(s.ctx, s.prefix, s.token)
	if err != nil {
		s.failed = s.d.fsys.errno("readdir", s.prefix, err)
		return
	}
	now := time.Now()
	for _, e := range entries {
		s.add(e, now)
	}
	s.token = next
	if next == "" {
		for _, p := range s.pending {
			s.emit(p, now)
		}
		s.pending = nil
		s.done = true
		s.d.listingDone(s.seen)
	}
}

// add takes entries in key order. An object "a" sorts before a prefix "a/", with only
// names like "a-b" between them, so an object is held back until a key past "a/" shows
// whether a directory of the same name hides it.
func (s *dirStream) add(e bucket.Entry, now time.Time) {
	name, _ := childName(s.prefix, e.Key)
	if reason := badName(name); reason != "" {
		s.d.fsys.warnOnce(e.Key, "skipping object: its name cannot be a file name", "reason", reason)
		return
	}
	keep := s.pending[:0]
	for _, p := range s.pending {
		switch {
		case e.Dir && e.Key == p.Key+"/":
			s.d.fsys.warnOnce(p.Key, "object hidden: a directory of the same name is shown instead")
		case p.Key+"/" < e.Key:
			s.emit(p, now)
		default:
			keep = append(keep, p)
		}
	}
	s.pending = keep
	if e.Dir {
		s.emit(e, now)
	} else {
		s.pending = append(s.pending, e)
	}
}

func (s *dirStream) emit(e bucket.Entry, now time.Time) {
	name, dir := childName(s.prefix, e.Key)
	mode := uint32(syscall.S_IFREG)
	if dir {
		mode = syscall.S_IFDIR
	}
	s.seen[name] = listedChild{entry: e, at: now}
	s.d.noteListed(name, e, now)
	s.ready = append(s.ready, fuse.DirEntry{Name: name, Mode: mode})
}
