package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
)

// fakeStore serves ListPage from a sorted set of keys the way bucket.ListPage does over
// S3: delimiter "/" roll-up into common prefixes, pages of pageSize results (objects and
// common prefixes both count, as with S3's MaxKeys), the marker object of the prefix left
// out, each page's entries in key order. The other methods are not used by listings.
type fakeStore struct {
	listOnly
	mu       sync.Mutex
	keys     []string
	pageSize int
	// failOn makes the failOn-th ListPage call (1-based) fail with failErr.
	failOn  int
	failErr error
	calls   int
	tokens  []string // token of each call
}

func newFakeStore(pageSize int, keys ...string) *fakeStore {
	s := &fakeStore{pageSize: pageSize}
	s.setKeys(keys...)
	return s
}

func (s *fakeStore) setKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = slices.Clone(keys)
	sort.Strings(s.keys)
	s.keys = slices.Compact(s.keys)
}

func (s *fakeStore) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// rolledUp is what S3 lists for prefix with delimiter "/", before pagination.
func (s *fakeStore) rolledUp(prefix string) []bucket.Entry {
	var all []bucket.Entry
	seenCP := make(map[string]bool)
	for _, k := range s.keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			cp := prefix + rest[:i+1]
			if !seenCP[cp] {
				seenCP[cp] = true
				all = append(all, bucket.Entry{Key: cp, Dir: true})
			}
			continue
		}
		all = append(all, bucket.Entry{
			Key:          k,
			Size:         int64(len(k)),
			ETag:         strconv.Quote("etag-" + k),
			LastModified: time.Unix(1700000000, 0),
		})
	}
	return all
}

func (s *fakeStore) ListPage(ctx context.Context, prefix, token string) ([]bucket.Entry, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.tokens = append(s.tokens, token)
	if s.failOn == s.calls {
		return nil, "", s.failErr
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return nil, "", fmt.Errorf("fakeStore: prefix %q does not end in /", prefix)
	}
	all := s.rolledUp(prefix)
	start := 0
	if token != "" {
		var err error
		if start, err = strconv.Atoi(token); err != nil || start <= 0 || start > len(all) {
			return nil, "", fmt.Errorf("fakeStore: bad continuation token %q", token)
		}
	}
	end := min(start+s.pageSize, len(all))
	page := make([]bucket.Entry, 0, end-start)
	for _, e := range all[start:end] {
		if !e.Dir && e.Key == prefix {
			continue // the marker object, as bucket.ListPage leaves it out
		}
		page = append(page, e)
	}
	sort.Slice(page, func(i, j int) bool { return page[i].Key < page[j].Key })
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return page, next, nil
}

func (s *fakeStore) PrefixExists(ctx context.Context, prefix string) (bool, error) {
	return false, errors.New("fakeStore: PrefixExists not expected in listing tests")
}

func (s *fakeStore) Head(ctx context.Context, key string) (bucket.ObjectInfo, error) {
	return bucket.ObjectInfo{}, errors.New("fakeStore: Head not expected in listing tests")
}

func (s *fakeStore) ReadRange(ctx context.Context, key, etag string, off, length int64) ([]byte, error) {
	return nil, errors.New("fakeStore: ReadRange not expected in listing tests")
}

func (s *fakeStore) ReadInto(ctx context.Context, key, etag string, off int64, dst [][]byte) (int64, bucket.ObjectInfo, error) {
	return 0, bucket.ObjectInfo{}, errors.New("fakeStore: ReadInto not expected in listing tests")
}

// TestFakeStoreRollsUp checks the fake itself, since every other test here trusts it.
func TestFakeStoreRollsUp(t *testing.T) {
	s := newFakeStore(2, "p/", "p/a", "p/b/1", "p/b/2", "p/c", "q")
	var got []string
	token := ""
	for {
		page, next, err := s.ListPage(context.Background(), "p/", token)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, fmt.Sprintf("%s:%v", e.Key, e.Dir))
		}
		if next == "" {
			break
		}
		token = next
	}
	want := []string{"p/a:false", "p/b/:true", "p/c:false"}
	if !slices.Equal(got, want) {
		t.Errorf("listing = %q, want %q", got, want)
	}
	// 5 results with the marker ("p/", "p/a", "p/b/", "p/c") -> 4 results, 2 pages.
	if n := s.callCount(); n != 2 {
		t.Errorf("ListPage calls = %d, want 2", n)
	}
}

type testEntry struct {
	Name string
	Dir  bool
}

func (e testEntry) String() string {
	if e.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// newTestFS makes an FS over store whose log goes to the returned buffer.
func newTestFS(t *testing.T, store ObjectStore, ttl time.Duration) (*FS, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(store, nil, Options{StatTTL: ttl, Logger: log}), &buf
}

func openStream(t *testing.T, d *dirNode) gofs.DirStream {
	t.Helper()
	ds, errno := d.Readdir(context.Background())
	if errno != 0 {
		t.Fatalf("Readdir: %v", errno)
	}
	return ds
}

// drain reads ds to its end, checking that offsets continue from startOff+1 and that
// modes are plain S_IFREG or S_IFDIR.
func drain(t *testing.T, ds gofs.DirStream, startOff uint64) []testEntry {
	t.Helper()
	var out []testEntry
	off := startOff
	for i := 0; ds.HasNext(); i++ {
		if i > 100000 {
			t.Fatal("stream does not end")
		}
		e, errno := ds.Next()
		if errno != 0 {
			t.Fatalf("Next after %d entries: errno %v", len(out), errno)
		}
		off++
		if e.Off != off {
			t.Errorf("entry %q: Off = %d, want %d", e.Name, e.Off, off)
		}
		switch e.Mode {
		case syscall.S_IFREG:
			out = append(out, testEntry{e.Name, false})
		case syscall.S_IFDIR:
			out = append(out, testEntry{e.Name, true})
		default:
			t.Errorf("entry %q: Mode = %#o, want S_IFREG or S_IFDIR", e.Name, e.Mode)
		}
	}
	return out
}

func listAll(t *testing.T, store *fakeStore, prefix string) []testEntry {
	t.Helper()
	f, _ := newTestFS(t, store, 0)
	return drain(t, openStream(t, newDirNode(f, prefix)), 0)
}

func sortedEntries(es []testEntry) []testEntry {
	out := slices.Clone(es)
	slices.SortFunc(out, func(a, b testEntry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func TestDirStreamListsEveryChildOnce(t *testing.T) {
	cases := []struct {
		name   string
		prefix string
		keys   []string
		want   []testEntry
	}{{
		name:   "root",
		prefix: "",
		keys:   []string{"a.txt", "b/1", "b/2", "c", "d/e/f", "e", "f/", "g", "h/x", "i"},
		want: []testEntry{
			{"a.txt", false}, {"b", true}, {"c", false}, {"d", true}, {"e", false},
			{"f", true}, {"g", false}, {"h", true}, {"i", false},
		},
	}, {
		name:   "subdirectory with its marker object",
		prefix: "b/",
		keys:   []string{"a", "b/", "b/1", "b/2", "b/sub/x", "b/sub/y", "b/z", "c/1"},
		want:   []testEntry{{"1", false}, {"2", false}, {"sub", true}, {"z", false}},
	}, {
		name:   "empty directory (marker only)",
		prefix: "empty/",
		keys:   []string{"empty/", "other"},
		want:   nil,
	}, {
		name:   "nothing under the prefix",
		prefix: "none/",
		keys:   []string{"a", "b/c"},
		want:   nil,
	}}
	for _, tc := range cases {
		for _, pageSize := range []int{1, 2, 3, 1000} {
			t.Run(fmt.Sprintf("%s/page%d", tc.name, pageSize), func(t *testing.T) {
				store := newFakeStore(pageSize, tc.keys...)
				got := listAll(t, store, tc.prefix)
				if !slices.Equal(got, tc.want) {
					t.Errorf("entries = %v, want %v", got, tc.want)
				}
				if store.callCount() < 1 {
					t.Errorf("ListPage was not called")
				}
				// Every page is fetched once: no page twice, none skipped.
				results := len(store.rolledUp(tc.prefix))
				wantCalls := max(1, (results+pageSize-1)/pageSize)
				if n := store.callCount(); n != wantCalls {
					t.Errorf("ListPage calls = %d, want %d", n, wantCalls)
				}
			})
		}
	}
}

// The stream fetches lazily: it asks for the second page only after the first is
// handed out.
func TestDirStreamFetchesPagesLazily(t *testing.T) {
	store := newFakeStore(3, "a", "b", "c", "d", "e", "f", "g")
	f, _ := newTestFS(t, store, 0)
	ds := openStream(t, newDirNode(f, ""))
	if n := store.callCount(); n != 0 {
		t.Fatalf("Readdir made %d ListPage calls before any entry was asked for", n)
	}
	for i := 0; i < 2; i++ {
		if !ds.HasNext() {
			t.Fatal("HasNext false on the first page")
		}
		if _, errno := ds.Next(); errno != 0 {
			t.Fatal(errno)
		}
	}
	if n := store.callCount(); n != 1 {
		t.Errorf("after 2 entries of a 3-entry page: %d ListPage calls, want 1", n)
	}
	rest := drain(t, ds, 2)
	if len(rest) != 5 {
		t.Errorf("rest of the listing = %v, want 5 entries", rest)
	}
	if !slices.Equal(store.tokens, []string{"", "3", "6"}) {
		t.Errorf("tokens used = %q, want [\"\" 3 6]", store.tokens)
	}
}

func TestDirStreamSkipsBadNames(t *testing.T) {
	long255 := strings.Repeat("n", 255)
	long256 := strings.Repeat("m", 256)
	cases := []struct {
		name    string
		prefix  string
		keys    []string
		want    []testEntry
		skipped []string // keys that must be warned about
	}{{
		name:    "empty segment",
		prefix:  "a/",
		keys:    []string{"a//b", "a/ok"},
		want:    []testEntry{{"ok", false}},
		skipped: []string{"a//"},
	}, {
		name:    "dot and dotdot",
		prefix:  "",
		keys:    []string{"./x", "../y", "z", ".hidden", "..two"},
		want:    []testEntry{{"..two", false}, {".hidden", false}, {"z", false}},
		skipped: []string{"./", "../"},
	}, {
		name:    "lengths and NUL",
		prefix:  "",
		keys:    []string{long256, long255, "nul\x00x", "fine", long256 + "/inside"},
		want:    []testEntry{{"fine", false}, {long255, false}},
		skipped: []string{long256, "nul\x00x"},
	}, {
		name:    "255-byte directory is kept",
		prefix:  "p/",
		keys:    []string{"p/" + long255 + "/x"},
		want:    []testEntry{{long255, true}},
		skipped: nil,
	}}
	for _, tc := range cases {
		for _, pageSize := range []int{1, 2, 3, 1000} {
			t.Run(fmt.Sprintf("%s/page%d", tc.name, pageSize), func(t *testing.T) {
				store := newFakeStore(pageSize, tc.keys...)
				f, logBuf := newTestFS(t, store, 0)
				d := newDirNode(f, tc.prefix)
				got := sortedEntries(drain(t, openStream(t, d), 0))
				if !slices.Equal(got, tc.want) {
					t.Errorf("entries = %v, want %v", got, tc.want)
				}
				logs := logBuf.String()
				for _, k := range tc.skipped {
					if !strings.Contains(logs, "skipping object") || !strings.Contains(logs, strconv.Quote(k)) && !strings.Contains(logs, "object="+k) {
						t.Errorf("no warning about skipped key %q in log:\n%s", k, logs)
					}
				}
				// A skipped name is not offered to lookups, and the complete
				// listing says it does not exist.
				for _, k := range tc.skipped {
					name, _ := childName(tc.prefix, k)
					if _, ok, _ := d.fromListing(name); ok {
						t.Errorf("skipped name %q is answered from the listing", name)
					}
				}
			})
		}
	}
}

func TestDirStreamObjectAndDirectoryOfTheSameName(t *testing.T) {
	cases := []struct {
		name   string
		keys   []string
		want   []testEntry
		hidden []string // objects that must be warned about as hidden
	}{{
		name:   "object and prefix",
		keys:   []string{"conflict", "conflict/a", "conflict/b"},
		want:   []testEntry{{"conflict", true}},
		hidden: []string{"conflict"},
	}, {
		name:   "names sorting between a and a/",
		keys:   []string{"a", "a-b", "a.c", "a/x"},
		want:   []testEntry{{"a", true}, {"a-b", false}, {"a.c", false}},
		hidden: []string{"a"},
	}, {
		name:   "names between a and a/ that are directories too",
		keys:   []string{"a", "a-b", "a-b/1", "a.c", "a/x", "a0"},
		want:   []testEntry{{"a", true}, {"a-b", true}, {"a.c", false}, {"a0", false}},
		hidden: []string{"a", "a-b"},
	}, {
		name: "object without a directory stays a file",
		keys: []string{"a1", "a2", "b", "c", "d"},
		want: []testEntry{{"a1", false}, {"a2", false}, {"b", false}, {"c", false}, {"d", false}},
	}, {
		name: "object last in the listing",
		keys: []string{"a/1", "z"},
		want: []testEntry{{"a", true}, {"z", false}},
	}, {
		name:   "several conflicts in a row",
		keys:   []string{"x", "x/1", "y", "y-", "y/1", "z", "z/1"},
		want:   []testEntry{{"x", true}, {"y", true}, {"y-", false}, {"z", true}},
		hidden: []string{"x", "y", "z"},
	}}
	for _, tc := range cases {
		// Every page size from 1 up puts a page boundary at every possible place,
		// including right after the held-back object.
		for pageSize := 1; pageSize <= len(tc.keys)+1; pageSize++ {
			t.Run(fmt.Sprintf("%s/page%d", tc.name, pageSize), func(t *testing.T) {
				store := newFakeStore(pageSize, tc.keys...)
				f, logBuf := newTestFS(t, store, 0)
				d := newDirNode(f, "")
				raw := drain(t, openStream(t, d), 0)
				got := sortedEntries(raw)
				if !slices.Equal(got, tc.want) {
					t.Errorf("entries = %v, want %v", raw, tc.want)
				}
				logs := logBuf.String()
				for _, h := range tc.hidden {
					if !strings.Contains(logs, "object hidden") || !strings.Contains(logs, "object="+h+"\n") {
						t.Errorf("no warning that object %q is hidden; log:\n%s", h, logs)
					}
					if e, ok, _ := d.fromListing(h); !ok || !e.entry.Dir {
						t.Errorf("fromListing(%q) = %+v, %v; want the directory", h, e, ok)
					}
				}
			})
		}
	}
}

// "b" is the last entry of the first page: it is held back, and must come out as a
// file once the next page shows no "b/".
func TestDirStreamHeldBackObjectAcrossPageBoundary(t *testing.T) {
	store := newFakeStore(3, "a1", "a2", "b", "c", "d")
	f, _ := newTestFS(t, store, 0)
	ds := openStream(t, newDirNode(f, ""))
	var names []string
	for ds.HasNext() {
		if len(names) > 100 {
			t.Fatal("stream does not end")
		}
		e, errno := ds.Next()
		if errno != 0 {
			t.Fatal(errno)
		}
		names = append(names, e.Name)
		if e.Name == "b" && e.Mode != syscall.S_IFREG {
			t.Errorf("b: mode %#o, want S_IFREG", e.Mode)
		}
	}
	if want := []string{"a1", "a2", "b", "c", "d"}; !slices.Equal(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
	if !slices.Equal(store.tokens, []string{"", "3"}) {
		t.Errorf("tokens = %q; want the boundary right after b", store.tokens)
	}
}

func TestDirStreamFeedsLookups(t *testing.T) {
	keys := []string{"a.txt", "b/1", "c", "conflict", "conflict/x", "e"}

	t.Run("fresh", func(t *testing.T) {
		store := newFakeStore(2, keys...)
		f, _ := newTestFS(t, store, time.Minute)
		d := newDirNode(f, "")
		ds := openStream(t, d)
		// Before the listing ends, an unlisted name is not known to be absent.
		if !ds.HasNext() {
			t.Fatal("empty listing")
		}
		if _, errno := ds.Next(); errno != 0 {
			t.Fatal(errno)
		}
		if _, ok, complete := d.fromListing("zzz"); ok || complete {
			t.Errorf("mid-listing fromListing(zzz) = ok %v complete %v; want false, false", ok, complete)
		}
		drain(t, ds, 1)

		e, ok, complete := d.fromListing("a.txt")
		if !ok || complete || e.entry.Key != "a.txt" || e.entry.Dir || e.entry.Size != int64(len("a.txt")) || e.entry.ETag != `"etag-a.txt"` {
			t.Errorf("fromListing(a.txt) = %+v, %v, %v; want the listed object", e, ok, complete)
		}
		if e, ok, _ := d.fromListing("b"); !ok || !e.entry.Dir || e.entry.Key != "b/" {
			t.Errorf("fromListing(b) = %+v, %v; want directory b/", e, ok)
		}
		if e, ok, _ := d.fromListing("conflict"); !ok || !e.entry.Dir {
			t.Errorf("fromListing(conflict) = %+v, %v; want the directory", e, ok)
		}
		if _, ok, complete := d.fromListing("missing"); ok || !complete {
			t.Errorf("fromListing(missing) = ok %v complete %v; want false, true", ok, complete)
		}
	})

	t.Run("expired", func(t *testing.T) {
		store := newFakeStore(2, keys...)
		f, _ := newTestFS(t, store, time.Millisecond)
		d := newDirNode(f, "")
		drain(t, openStream(t, d), 0)
		time.Sleep(20 * time.Millisecond)
		if _, ok, complete := d.fromListing("a.txt"); ok || complete {
			t.Errorf("after StatTTL: fromListing(a.txt) = ok %v complete %v; want false, false", ok, complete)
		}
		if _, ok, complete := d.fromListing("missing"); ok || complete {
			t.Errorf("after StatTTL: fromListing(missing) = ok %v complete %v; want false, false", ok, complete)
		}
	})

	t.Run("relisting forgets removed names", func(t *testing.T) {
		store := newFakeStore(2, keys...)
		f, _ := newTestFS(t, store, time.Minute)
		d := newDirNode(f, "")
		drain(t, openStream(t, d), 0)
		if _, ok, _ := d.fromListing("c"); !ok {
			t.Fatal("c not listed")
		}
		store.setKeys("a.txt", "new")
		drain(t, openStream(t, d), 0)
		if _, ok, complete := d.fromListing("c"); ok || !complete {
			t.Errorf("after relisting without c: fromListing(c) = ok %v complete %v; want false, true", ok, complete)
		}
		if _, ok, _ := d.fromListing("new"); !ok {
			t.Errorf("after relisting: new not found")
		}
	})
}

func TestDirStreamSeekdir(t *testing.T) {
	keys := []string{"a", "b/1", "c", "d", "e/f", "g", "h", "i"}
	want := listAll(t, newFakeStore(3, keys...), "")
	if len(want) != 8 {
		t.Fatalf("reference listing = %v, want 8 entries", want)
	}

	t.Run("rewind", func(t *testing.T) {
		store := newFakeStore(3, keys...)
		f, _ := newTestFS(t, store, 0)
		ds := openStream(t, newDirNode(f, ""))
		for i := 0; i < 4; i++ {
			if !ds.HasNext() {
				t.Fatal("ended early")
			}
			if _, errno := ds.Next(); errno != 0 {
				t.Fatal(errno)
			}
		}
		if errno := ds.(gofs.FileSeekdirer).Seekdir(context.Background(), 0); errno != 0 {
			t.Fatalf("Seekdir(0): %v", errno)
		}
		if got := drain(t, ds, 0); !slices.Equal(got, want) {
			t.Errorf("after rewind = %v, want %v", got, want)
		}
		// And again after the end.
		if errno := ds.(gofs.FileSeekdirer).Seekdir(context.Background(), 0); errno != 0 {
			t.Fatalf("Seekdir(0) at end: %v", errno)
		}
		if got := drain(t, ds, 0); !slices.Equal(got, want) {
			t.Errorf("after rewind at end = %v, want %v", got, want)
		}
	})

	for k := 0; k <= len(want); k++ {
		for _, readFirst := range []int{0, 2, 5, len(want)} {
			t.Run(fmt.Sprintf("to%d/after%d", k, readFirst), func(t *testing.T) {
				store := newFakeStore(3, keys...)
				f, _ := newTestFS(t, store, 0)
				ds := openStream(t, newDirNode(f, ""))
				for i := 0; i < readFirst; i++ {
					if !ds.HasNext() {
						t.Fatal("ended early")
					}
					if _, errno := ds.Next(); errno != 0 {
						t.Fatal(errno)
					}
				}
				if errno := ds.(gofs.FileSeekdirer).Seekdir(context.Background(), uint64(k)); errno != 0 {
					t.Fatalf("Seekdir(%d): %v", k, errno)
				}
				got := drain(t, ds, uint64(k))
				if !slices.Equal(got, want[k:]) {
					t.Errorf("after Seekdir(%d) = %v, want %v", k, got, want[k:])
				}
			})
		}
	}
}

func TestDirStreamListError(t *testing.T) {
	notFound := &bucket.Error{Op: "ListObjectsV2", Object: "d/", Kind: bucket.ErrNotFound, Err: errors.New("x")}
	denied := &bucket.Error{Op: "ListObjectsV2", Object: "d/", Kind: bucket.ErrAccessDenied, Err: errors.New("x")}
	cases := []struct {
		name   string
		err    error
		failOn int
		want   syscall.Errno
		before []string // entries handed out before the error
	}{
		{"plain error on first page", errors.New("connection reset"), 1, syscall.EIO, nil},
		// "b" ends page 1 and is held back (a "b/" could follow), so only "a" is out.
		{"plain error on second page", errors.New("connection reset"), 2, syscall.EIO, []string{"a"}},
		{"not found", notFound, 1, syscall.ENOENT, nil},
		{"wrapped not found", fmt.Errorf("wrapped: %w", notFound), 2, syscall.ENOENT, []string{"a"}},
		{"access denied", denied, 1, syscall.EACCES, nil},
		{"deadline", context.DeadlineExceeded, 1, syscall.ETIMEDOUT, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := newFakeStore(2, "a", "b", "c", "d", "e")
			store.failOn, store.failErr = tc.failOn, tc.err
			f, _ := newTestFS(t, store, time.Minute)
			d := newDirNode(f, "")
			ds := openStream(t, d)
			var got []string
			var errno syscall.Errno
			for i := 0; ds.HasNext(); i++ {
				if i > 100 {
					t.Fatal("stream does not end")
				}
				var e fuse.DirEntry
				e, errno = ds.Next()
				if errno != 0 {
					break
				}
				got = append(got, e.Name)
			}
			if errno != tc.want {
				t.Errorf("errno = %v, want %v", errno, tc.want)
			}
			if !slices.Equal(got, tc.before) {
				t.Errorf("entries before the error = %q, want %q", got, tc.before)
			}
			// A failed listing is not complete: it cannot say what does not exist.
			if _, _, complete := d.fromListing("zzz"); complete {
				t.Errorf("failed listing marked complete")
			}
		})
	}
}

// Listing a directory again does not repeat warnings about the same objects.
func TestDirStreamWarnsOnce(t *testing.T) {
	store := newFakeStore(2, "a", "a/x", "./dot", "ok")
	f, logBuf := newTestFS(t, store, time.Minute)
	d := newDirNode(f, "")
	for i := 0; i < 3; i++ {
		if got := sortedEntries(drain(t, openStream(t, d), 0)); !slices.Equal(got, []testEntry{{"a", true}, {"ok", false}}) {
			t.Fatalf("listing %d = %v", i, got)
		}
	}
	logs := logBuf.String()
	if n := strings.Count(logs, "object hidden"); n != 1 {
		t.Errorf("hidden-object warning given %d times, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs, "skipping object"); n != 1 {
		t.Errorf("bad-name warning given %d times, want 1:\n%s", n, logs)
	}
}
