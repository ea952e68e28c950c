package fs

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
)

// memStore is an in-memory object store that keeps what AWS keeps: data, user metadata
// (on directory markers too, unlike SeaweedFS) and an ETag per version. Uploads are not
// faked: ObjectStore.StartUpload returns the concrete *bucket.Upload.
type memStore struct {
	mu      sync.Mutex
	objects map[string]memObject
	n       int
}

type memObject struct {
	data []byte
	meta map[string]string
	etag string
	mod  time.Time
}

func newMemStore() *memStore { return &memStore{objects: make(map[string]memObject)} }

func (s *memStore) check(key string, cond bucket.Condition) error {
	o, ok := s.objects[key]
	if (cond.IfNoneMatch && ok) || (cond.IfMatch != "" && (!ok || o.etag != cond.IfMatch)) {
		return &bucket.Error{Op: "PutObject", Object: key, Kind: bucket.ErrChanged, Err: fmt.Errorf("412")}
	}
	return nil
}

func (s *memStore) store(key string, data []byte, meta map[string]string) string {
	s.n++
	etag := fmt.Sprintf(`"v%d"`, s.n)
	s.objects[key] = memObject{data: append([]byte(nil), data...), meta: maps.Clone(meta), etag: etag, mod: time.Now()}
	return etag
}

func (s *memStore) Put(_ context.Context, key string, body []byte, meta map[string]string, cond bucket.Condition) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key, cond); err != nil {
		return "", err
	}
	return s.store(key, body, meta), nil
}

func (s *memStore) Copy(_ context.Context, src, srcETag string, _ int64, dst string, meta map[string]string, cond bucket.Condition) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[src]
	if !ok {
		return "", &bucket.Error{Op: "CopyObject", Object: src, Kind: bucket.ErrNotFound, Err: fmt.Errorf("404")}
	}
	if srcETag != "" && o.etag != srcETag {
		return "", &bucket.Error{Op: "CopyObject", Object: src, Kind: bucket.ErrChanged, Err: fmt.Errorf("412")}
	}
	if err := s.check(dst, cond); err != nil {
		return "", err
	}
	if meta == nil {
		meta = o.meta
	}
	return s.store(dst, o.data, meta), nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, key)
	return nil
}

func (s *memStore) Head(_ context.Context, key string) (bucket.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return bucket.ObjectInfo{}, &bucket.Error{Op: "HeadObject", Object: key, Kind: bucket.ErrNotFound, Err: fmt.Errorf("404")}
	}
	return bucket.ObjectInfo{Key: key, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.mod, Metadata: maps.Clone(o.meta), Encrypted: true}, nil
}

func (s *memStore) ReadRange(_ context.Context, key, etag string, off, length int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	switch {
	case !ok:
		return nil, &bucket.Error{Op: "GetObject", Object: key, Kind: bucket.ErrNotFound, Err: fmt.Errorf("404")}
	case etag != "" && etag != o.etag:
		return nil, &bucket.Error{Op: "GetObject", Object: key, Kind: bucket.ErrChanged, Err: fmt.Errorf("412")}
	case off >= int64(len(o.data)):
		return nil, nil
	}
	return append([]byte(nil), o.data[off:min(off+length, int64(len(o.data)))]...), nil
}

// ListPage lists all of prefix's children in one page.
func (s *memStore) ListPage(_ context.Context, prefix, _ string) ([]bucket.Entry, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bucket.Entry
	dirs := make(map[string]bool)
	for k, o := range s.objects {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || rest == "" {
			continue
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			dirs[prefix+rest[:i+1]] = true
			continue
		}
		out = append(out, bucket.Entry{Key: k, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.mod})
	}
	for d := range dirs {
		out = append(out, bucket.Entry{Key: d, Dir: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, "", nil
}

func (s *memStore) ListAll(ctx context.Context, prefix string, fn func([]bucket.Entry) error) error {
	s.mu.Lock()
	var out []bucket.Entry
	for k, o := range s.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, bucket.Entry{Key: k, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.mod})
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return fn(out)
}

func (s *memStore) PrefixExists(_ context.Context, prefix string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			return true, nil
		}
	}
	return false, nil
}

func (s *memStore) StartUpload(context.Context, string, map[string]string) (*bucket.Upload, error) {
	return nil, errNotInThisFake
}

func (s *memStore) meta(key string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.objects[key].meta)
}
