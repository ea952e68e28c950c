package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name      string
		capacity  int64
		pageSize  int
		wantPages int
	}{
		{"exact", 4096, 1024, 4},
		{"rounded down", 4095, 1024, 3},
		{"smaller than a page", 100, 1024, 1},
		{"zero", 0, 1024, 1},
		{"negative", -5, 1024, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.capacity, tt.pageSize, time.Second)
			if c.PageSize() != tt.pageSize {
				t.Errorf("PageSize() = %d, want %d", c.PageSize(), tt.pageSize)
			}
			if c.maxPages != tt.wantPages {
				t.Errorf("maxPages = %d, want %d", c.maxPages, tt.wantPages)
			}
		})
	}
	t.Run("bad page size panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("New with page size 0 did not panic")
			}
		}()
		New(1024, 0, time.Second)
	})
}

func TestHitMissCounting(t *testing.T) {
	k := func(obj string, i int64) PageKey { return PageKey{Object: obj, Version: "v1", Index: i} }
	tests := []struct {
		name        string
		capPages    int64
		gets        []PageKey
		wantHits    int64
		wantMisses  int64
		wantFetches int64
		wantPages   int
	}{
		{"single miss", 4, []PageKey{k("a", 0)}, 0, 1, 1, 1},
		{"miss then hits", 4, []PageKey{k("a", 0), k("a", 0), k("a", 0)}, 2, 1, 1, 1},
		{"distinct pages", 4, []PageKey{k("a", 0), k("a", 1), k("b", 0), k("a", 1)}, 1, 3, 3, 3},
		// Capacity 2: a0 a1 a2 evicts a0, so the last a0 misses again.
		{"eviction causes refetch", 2, []PageKey{k("a", 0), k("a", 1), k("a", 2), k("a", 0)}, 0, 4, 4, 2},
		// LRU, not FIFO: touching a0 makes a1 the victim.
		{"recency protects", 2, []PageKey{k("a", 0), k("a", 1), k("a", 0), k("a", 2), k("a", 0)}, 2, 3, 3, 2},
	}
	const ps = 64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.capPages*ps, ps, time.Second)
			for _, key := range tt.gets {
				want := content(key, ps)
				got, err := c.Get(context.Background(), key, fixed(want, nil))
				if err != nil {
					t.Fatalf("Get(%v): %v", key, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("Get(%v) = %q, want %q", key, got, want)
				}
			}
			s := c.Stats()
			if s.Hits != tt.wantHits || s.Misses != tt.wantMisses || s.Fetches != tt.wantFetches || s.Pages != tt.wantPages {
				t.Errorf("Stats = %+v, want hits %d misses %d fetches %d pages %d",
					s, tt.wantHits, tt.wantMisses, tt.wantFetches, tt.wantPages)
			}
			if s.Bytes != int64(s.Pages)*ps {
				t.Errorf("Stats.Bytes = %d, want %d", s.Bytes, int64(s.Pages)*ps)
			}
		})
	}
}

func TestErrorsNotCached(t *testing.T) {
	const ps = 16
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		fetch   FetchFunc
		timeout time.Duration
		check   func(error) bool
	}{
		{"plain error", func(context.Context) ([]byte, error) { return nil, errBoom },
			time.Second, func(err error) bool { return errors.Is(err, errBoom) }},
		{"data with error is dropped", func(context.Context) ([]byte, error) { return []byte("partial"), errBoom },
			time.Second, func(err error) bool { return errors.Is(err, errBoom) }},
		{"oversize", func(context.Context) ([]byte, error) { return make([]byte, ps+1), nil },
			time.Second, func(err error) bool { return strings.Contains(err.Error(), "more than the page size") }},
		{"timeout", func(ctx context.Context) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() },
			20 * time.Millisecond, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"panic", func(context.Context) ([]byte, error) { panic("SECRET-PLAINTEXT") },
			time.Second, func(err error) bool {
				return strings.Contains(err.Error(), "panicked") && !strings.Contains(err.Error(), "SECRET")
			}},
		{"runtime panic", func(context.Context) ([]byte, error) { var b []byte; return b[:1], nil },
			time.Second, func(err error) bool { return strings.Contains(err.Error(), "out of range") }},
		{"nil fetch", nil, time.Second, func(err error) bool { return strings.Contains(err.Error(), "no fetch function") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(4*ps, ps, tt.timeout)
			key := PageKey{Object: "obj", Version: "v", Index: 3}
			_, err := c.Get(context.Background(), key, tt.fetch)
			if err == nil || !tt.check(err) {
				t.Fatalf("first Get error = %v, not the expected kind", err)
			}
			if s := c.Stats(); s.Pages != 0 || s.Bytes != 0 {
				t.Fatalf("after error Stats = %+v, want empty cache", s)
			}
			calls := 0
			want := content(key, ps)
			got, err := c.Get(context.Background(), key, fixed(want, &calls))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("second Get = %q, %v; want %q", got, err, want)
			}
			if calls != 1 {
				t.Errorf("second Get called fetch %d times, want 1 (error must not be cached)", calls)
			}
			if s := c.Stats(); s.Fetches != 2 || s.Pages != 1 {
				t.Errorf("Stats = %+v, want 2 fetches and 1 page", s)
			}
		})
	}
}

func TestOversizePageRejected(t *testing.T) {
	const ps = 32
	tests := []struct {
		name    string
		n       int
		wantErr bool
	}{
		{"empty", 0, false},
		{"short", ps - 1, false},
		{"exact", ps, false},
		{"one over", ps + 1, true},
		{"double", 2 * ps, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(4*ps, ps, time.Second)
			key := PageKey{Object: "dir/file.bin", Version: "etag", Index: 7}
			data := bytes.Repeat([]byte("S"), tt.n) // "S" for secret: must not appear in errors
			_, err := c.Get(context.Background(), key, fixed(data, nil))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Get error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				msg := err.Error()
				if !strings.Contains(msg, `"dir/file.bin"`) || !strings.Contains(msg, "page 7") {
					t.Errorf("error %q does not name object and page", msg)
				}
				if strings.Contains(msg, "SS") {
					t.Errorf("error %q contains page content", msg)
				}
			}
			want := 0
			if !tt.wantErr {
				want = 1
			}
			if s := c.Stats(); s.Pages != want || s.Bytes > int64(ps*s.Pages) {
				t.Errorf("Stats = %+v, want %d pages within the byte bound", s, want)
			}
		})
	}
}

func TestBigBackingArrayIsNotPinned(t *testing.T) {
	const ps = 16
	c := New(4*ps, ps, time.Second)
	buf := make([]byte, 1<<20)
	copy(buf, "hello")
	got, err := c.Get(context.Background(), PageKey{Object: "o", Index: 0}, func(context.Context) ([]byte, error) {
		return buf[:5], nil
	})
	if err != nil || string(got) != "hello" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if cap(got) > ps {
		t.Errorf("cached page has cap %d > page size %d: it pins the fetcher's buffer", cap(got), ps)
	}
}

func TestCapacityBound(t *testing.T) {
	tests := []struct {
		name     string
		capacity int64
		pageSize int
		inserts  int
		lens     func(i int) int // length of the i-th page inserted
	}{
		{"full pages", 10 * 100, 100, 50, func(int) int { return 100 }},
		{"capacity not a multiple", 1050, 100, 50, func(int) int { return 100 }},
		{"mixed lengths", 8 * 64, 64, 200, func(i int) int { return (i * 37) % 65 }},
		{"one page", 64, 64, 20, func(i int) int { return 64 - i%3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.capacity, tt.pageSize, time.Second)
			maxPages := int(tt.capacity / int64(tt.pageSize))
			for i := range tt.inserts {
				key := PageKey{Object: fmt.Sprintf("obj%d", i%7), Version: "v", Index: int64(i)}
				if _, err := c.Get(context.Background(), key, fixed(content(key, tt.lens(i)), nil)); err != nil {
					t.Fatalf("Get %d: %v", i, err)
				}
				s := c.Stats()
				if s.Bytes > tt.capacity || s.Pages > maxPages {
					t.Fatalf("after %d inserts Stats = %+v, exceeds capacity %d / %d pages", i+1, s, tt.capacity, maxPages)
				}
				if got := sumBytes(c); got != s.Bytes {
					t.Fatalf("after %d inserts Stats.Bytes = %d but pages hold %d bytes", i+1, s.Bytes, got)
				}
			}
			if s := c.Stats(); s.Pages != maxPages {
				t.Errorf("Pages = %d, want the cache full at %d", s.Pages, maxPages)
			}
		})
	}
}

func TestVersionsAreDistinct(t *testing.T) {
	const ps = 32
	c := New(16*ps, ps, time.Second)
	tests := []struct {
		version     string
		wantFetches int64
	}{
		{"etag-1", 1},
		{"etag-2", 2}, // new version: new page, fetched
		{"etag-1", 2}, // old version still cached, not mixed up with etag-2
		{"etag-2", 2},
	}
	for _, tt := range tests {
		key := PageKey{Object: "o", Version: tt.version, Index: 0}
		got, err := c.Get(context.Background(), key, fixed(content(key, ps), nil))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, content(key, ps)) {
			t.Errorf("version %s: got %q", tt.version, got)
		}
		if f := c.Stats().Fetches; f != tt.wantFetches {
			t.Errorf("version %s: Fetches = %d, want %d", tt.version, f, tt.wantFetches)
		}
	}
}

func TestForget(t *testing.T) {
	const ps = 16
	keys := []PageKey{
		{Object: "a", Version: "v1", Index: 0},
		{Object: "a", Version: "v1", Index: 1},
		{Object: "a", Version: "v2", Index: 0},
		{Object: "ab", Version: "v1", Index: 0}, // prefix of nothing: must survive Forget("a")
		{Object: "b", Version: "v1", Index: 0},
	}
	tests := []struct {
		forget    string
		wantPages int
	}{
		{"a", 2},
		{"b", 4},
		{"missing", 5},
	}
	for _, tt := range tests {
		t.Run(tt.forget, func(t *testing.T) {
			c := New(16*ps, ps, time.Second)
			for i, k := range keys {
				if _, err := c.Get(context.Background(), k, fixed(content(k, ps-i), nil)); err != nil {
					t.Fatal(err)
				}
			}
			c.Forget(tt.forget)
			s := c.Stats()
			if s.Pages != tt.wantPages {
				t.Errorf("Pages = %d, want %d", s.Pages, tt.wantPages)
			}
			if got := sumBytes(c); got != s.Bytes {
				t.Errorf("Bytes = %d, pages hold %d", s.Bytes, got)
			}
			for _, k := range keys {
				calls := 0
				if _, err := c.Get(context.Background(), k, fixed(content(k, ps), &calls)); err != nil {
					t.Fatal(err)
				}
				if wantCalls := map[bool]int{true: 1, false: 0}[k.Object == tt.forget]; calls != wantCalls {
					t.Errorf("Get(%v) after Forget(%q) fetched %d times, want %d", k, tt.forget, calls, wantCalls)
				}
			}
		})
	}
}

func TestForgetDuringFetch(t *testing.T) {
	const ps = 16
	c := New(16*ps, ps, time.Second)
	key := PageKey{Object: "o", Version: "v", Index: 0}
	started, release := make(chan struct{}), make(chan struct{})
	old := []byte("old content")
	done := make(chan []byte)
	go func() {
		b, err := c.Get(context.Background(), key, func(context.Context) ([]byte, error) {
			close(started)
			<-release
			return bytes.Clone(old), nil
		})
		if err != nil {
			t.Error(err)
		}
		done <- b
	}()
	<-started
	c.Forget("o")

	// A Get after Forget must not join the stale fetch.
	fresh := []byte("new content")
	got, err := c.Get(context.Background(), key, fixed(fresh, nil))
	if err != nil || !bytes.Equal(got, fresh) {
		t.Fatalf("Get after Forget = %q, %v; want %q", got, err, fresh)
	}
	close(release)
	if b := <-done; !bytes.Equal(b, old) {
		t.Errorf("waiter of the stale fetch got %q, want %q", b, old)
	}
	// The stale result must not have replaced the fresh page.
	got, err = c.Get(context.Background(), key, fixed([]byte("unexpected fetch"), nil))
	if err != nil || !bytes.Equal(got, fresh) {
		t.Errorf("cached page = %q, %v; want %q", got, err, fresh)
	}
	if s := c.Stats(); s.Fetches != 2 || s.Pages != 1 || s.Bytes != int64(len(fresh)) {
		t.Errorf("Stats = %+v", s)
	}
}
