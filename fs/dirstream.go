package fs

import (
	"context"
	gofs "github.com/hanwen/go-fuse/v2/fs"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
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
	pending []listedChild // objects held back: a directory of the same name may follow
	seen    map[string]listedChild
	files   []string  // the names of the files listed, in order (prefetch.go)
	pos     uint64    // entries handed out so far
	start   time.Time // when the first page was asked for: the listing's "as of"
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
	s.files = nil
	s.start = time.Time{}
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
	// Each entry is as fresh as the request that listed it: not fresher, so that it
	// cannot override a change made here while the request was on its way.
	sent := time.Now()
	entries, next, err := s.d.fsys.store.ListPage(s.ctx, s.prefix, s.token)
	if err != nil {
		s.failed = s.d.fsys.errno("readdir", s.prefix, err)
		return
	}
	if s.token == "" {
		s.start = sent
	}
	for _, e := range entries {
		s.add(listedChild{entry: e, at: sent})
	}
	s.token = next
	if next == "" {
		for _, p := range s.pending {
			s.emit(p)
		}
		s.pending = nil
		// What exists here but the listing cannot show: files created and not yet
		// saved, and names made or moved here while it was on its way.
		for _, c := range s.d.localNames(s.start, s.seen) {
			s.emit(c)
		}
		s.done = true
		s.d.listingDoneInOrder(s.seen, s.files, s.start)
	}
}

// add takes entries in key order. An object "a" sorts before a prefix "a/", with only
// names like "a-b" between them, so an object is held back until a key past "a/" shows
// whether a directory of the same name hides it.
func (s *dirStream) add(c listedChild) {
	e := c.entry
	name, _ := childName(s.prefix, e.Key)
	if reason := badName(name); reason != "" {
		s.d.fsys.warnOnce(e.Key, "skipping object: its name cannot be a file name", "reason", reason)
		return
	}
	keep := s.pending[:0]
	for _, p := range s.pending {
		switch {
		case e.Dir && e.Key == p.entry.Key+"/":
			s.d.fsys.warnOnce(p.entry.Key, "object hidden: a directory of the same name is shown instead")
		case p.entry.Key+"/" < e.Key:
			s.emit(p)
		default:
			keep = append(keep, p)
		}
	}
	s.pending = keep
	if e.Dir {
		s.emit(c)
	} else {
		s.pending = append(s.pending, c)
	}
}

func (s *dirStream) emit(c listedChild) {
	e := c.entry
	name, dir := childName(s.prefix, e.Key)
	if s.d.goneSince(name, c.at) {
		return // removed here after the listing was sent
	}
	mode := uint32(syscall.S_IFREG)
	if dir {
		mode = syscall.S_IFDIR
	} else if _, twice := s.seen[name]; !twice {
		s.files = append(s.files, name)
	}
	s.seen[name] = c
	s.d.noteListed(name, e, c.at)
	s.ready = append(s.ready, fuse.DirEntry{Name: name, Mode: mode})
}
