// Package memstore is an in-memory S3 bucket for unit tests of the layers above the
// bucket (fs, writeback): objects with data, user metadata (on directory markers too,
// unlike SeaweedFS) and an ETag per version; conditional writes; and multipart uploads
// that keep S3's rules (parts of at least 5 MiB but the last, nothing visible before
// Complete). Every operation first calls Before, where a test can fail it or hold it.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/writeback"
)

// Operation names passed to Before.
const (
	OpPut         = "PutObject"
	OpCopy        = "CopyObject"
	OpDelete      = "DeleteObject"
	OpHead        = "HeadObject"
	OpGet         = "GetObject"
	OpList        = "ListObjects"
	OpStartUpload = "CreateMultipartUpload"
	OpPutPart     = "UploadPart"
	OpCopyPart    = "UploadPartCopy"
	OpComplete    = "CompleteMultipartUpload"
	OpAbort       = "AbortMultipartUpload"
)

// minPart is S3's smallest part, the last excepted.
const minPart = 5 << 20

// Store is the in-memory bucket. The zero value is not usable; call New.
type Store struct {
	// Before, if set, runs before every operation, without the store's lock: an error
	// fails the operation with no effect; it may also block. Set it before use.
	Before func(op, key string) error

	mu      sync.Mutex
	objects map[string]object
	uploads map[*upload]struct{}
	n       int
}

type object struct {
	data []byte
	meta map[string]string
	etag string
	mod  time.Time
}

// New makes an empty store.
func New() *Store {
	return &Store{objects: make(map[string]object), uploads: make(map[*upload]struct{})}
}

func (s *Store) before(op, key string) error {
	if s.Before == nil {
		return nil
	}
	if err := s.Before(op, key); err != nil {
		return &bucket.Error{Op: op, Object: key, Err: err}
	}
	return nil
}

func changed(op, key string) error {
	return &bucket.Error{Op: op, Object: key, Kind: bucket.ErrChanged, Err: fmt.Errorf("412 Precondition Failed")}
}

func notFound(op, key string) error {
	return &bucket.Error{Op: op, Object: key, Kind: bucket.ErrNotFound, Err: fmt.Errorf("404 Not Found")}
}

// checkLocked answers whether a write of key under cond may go ahead.
func (s *Store) checkLocked(op, key string, cond bucket.Condition) error {
	o, ok := s.objects[key]
	if (cond.IfNoneMatch && ok) || (cond.IfMatch != "" && (!ok || o.etag != cond.IfMatch)) {
		return changed(op, key)
	}
	return nil
}

func (s *Store) storeLocked(key string, data []byte, meta map[string]string) string {
	s.n++
	etag := fmt.Sprintf(`"v%d"`, s.n)
	s.objects[key] = object{data: bytes.Clone(data), meta: maps.Clone(meta), etag: etag, mod: time.Now()}
	return etag
}

// Put stores body as key under cond.
func (s *Store) Put(_ context.Context, key string, body []byte, meta map[string]string, cond bucket.Condition) (string, error) {
	if err := s.before(OpPut, key); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(OpPut, key, cond); err != nil {
		return "", err
	}
	return s.storeLocked(key, body, meta), nil
}

// Copy copies version srcETag of src to dst, with meta (nil keeps the source's).
func (s *Store) Copy(_ context.Context, src, srcETag string, _ int64, dst string, meta map[string]string, cond bucket.Condition) (string, error) {
	if err := s.before(OpCopy, src); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[src]
	if !ok {
		return "", notFound(OpCopy, src)
	}
	if srcETag != "" && o.etag != srcETag {
		return "", changed(OpCopy, src)
	}
	if err := s.checkLocked(OpCopy, dst, cond); err != nil {
		return "", err
	}
	if meta == nil {
		meta = o.meta
	}
	return s.storeLocked(dst, o.data, meta), nil
}

// Delete removes key; a missing key is not an error, as in S3.
func (s *Store) Delete(_ context.Context, key string) error {
	if err := s.before(OpDelete, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, key)
	return nil
}

// Head describes key.
func (s *Store) Head(_ context.Context, key string) (bucket.ObjectInfo, error) {
	if err := s.before(OpHead, key); err != nil {
		return bucket.ObjectInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return bucket.ObjectInfo{}, notFound(OpHead, key)
	}
	return bucket.ObjectInfo{Key: key, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.mod, Metadata: maps.Clone(o.meta), Encrypted: true}, nil
}

// ReadRange reads [off, off+length) of version etag of key ("" for any).
func (s *Store) ReadRange(_ context.Context, key, etag string, off, length int64) ([]byte, error) {
	if err := s.before(OpGet, key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	switch {
	case !ok:
		return nil, notFound(OpGet, key)
	case etag != "" && etag != o.etag:
		return nil, changed(OpGet, key)
	case off >= int64(len(o.data)):
		return nil, nil
	}
	return bytes.Clone(o.data[off:min(off+length, int64(len(o.data)))]), nil
}

// ReadInto reads version etag of key ("" for any) from off into the buffers of dst in
// order, and says how many bytes it wrote (fewer than dst holds only at the end) and
// what a HEAD would say of the object.
func (s *Store) ReadInto(_ context.Context, key, etag string, off int64, dst [][]byte) (int64, bucket.ObjectInfo, error) {
	if err := s.before(OpGet, key); err != nil {
		return 0, bucket.ObjectInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	switch {
	case !ok:
		return 0, bucket.ObjectInfo{}, notFound(OpGet, key)
	case etag != "" && etag != o.etag:
		return 0, bucket.ObjectInfo{}, changed(OpGet, key)
	}
	info := bucket.ObjectInfo{Key: key, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.mod, Metadata: maps.Clone(o.meta), Encrypted: true}
	var n int64
	for _, d := range dst {
		if off+n >= int64(len(o.data)) {
			break
		}
		n += int64(copy(d, o.data[off+n:]))
	}
	return n, info, nil
}

// ListPage lists all of prefix's children in one page, rolled up at "/".
func (s *Store) ListPage(_ context.Context, prefix, _ string) ([]bucket.Entry, string, error) {
	if err := s.before(OpList, prefix); err != nil {
		return nil, "", err
	}
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

// ListAll lists every object under prefix, in one page.
func (s *Store) ListAll(_ context.Context, prefix string, fn func([]bucket.Entry) error) error {
	if err := s.before(OpList, prefix); err != nil {
		return err
	}
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

// PrefixExists reports whether any object starts with prefix.
func (s *Store) PrefixExists(_ context.Context, prefix string) (bool, error) {
	if err := s.before(OpList, prefix); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			return true, nil
		}
	}
	return false, nil
}

// Object returns key's data, metadata and ETag, and whether it exists.
func (s *Store) Object(key string) (data []byte, meta map[string]string, etag string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	return bytes.Clone(o.data), maps.Clone(o.meta), o.etag, ok
}

// Keys lists every object's key, sorted.
func (s *Store) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.objects))
	for k := range s.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// OpenUploads counts the multipart uploads begun and neither completed nor aborted.
func (s *Store) OpenUploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

// upload is one multipart upload in progress.
type upload struct {
	s     *Store
	key   string
	meta  map[string]string
	mu    sync.Mutex
	parts map[int32][]byte
}

// StartUpload begins a multipart upload of key.
func (s *Store) StartUpload(_ context.Context, key string, meta map[string]string) (writeback.Upload, error) {
	if err := s.before(OpStartUpload, key); err != nil {
		return nil, err
	}
	u := &upload{s: s, key: key, meta: maps.Clone(meta), parts: make(map[int32][]byte)}
	s.mu.Lock()
	s.uploads[u] = struct{}{}
	s.mu.Unlock()
	return u, nil
}

func (u *upload) live() error {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	if _, ok := u.s.uploads[u]; !ok {
		return &bucket.Error{Op: OpPutPart, Object: u.key, Kind: bucket.ErrNotFound, Err: fmt.Errorf("404 NoSuchUpload")}
	}
	return nil
}

func (u *upload) setPart(n int32, data []byte) error {
	if n < 1 || n > 10000 {
		return fmt.Errorf("memstore: part number %d out of 1..10000", n)
	}
	if err := u.live(); err != nil {
		return err
	}
	u.mu.Lock()
	u.parts[n] = data
	u.mu.Unlock()
	return nil
}

func (u *upload) PutPartPages(ctx context.Context, n int32, pages [][]byte) error {
	if err := u.s.before(OpPutPart, u.key); err != nil {
		return err
	}
	return u.setPart(n, bytes.Join(pages, nil))
}

func (u *upload) PutPartFrom(ctx context.Context, n int32, body io.ReadSeeker, size int64) error {
	if err := u.s.before(OpPutPart, u.key); err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(body, size))
	if err != nil {
		return err
	}
	if int64(len(data)) != size {
		return fmt.Errorf("memstore: part %d of %s has %d bytes, declared %d", n, u.key, len(data), size)
	}
	return u.setPart(n, data)
}

func (u *upload) CopyPart(ctx context.Context, n int32, src, srcETag string, off, length int64) error {
	if err := u.s.before(OpCopyPart, src); err != nil {
		return err
	}
	u.s.mu.Lock()
	o, ok := u.s.objects[src]
	u.s.mu.Unlock()
	switch {
	case !ok:
		return notFound(OpCopyPart, src)
	case srcETag != "" && o.etag != srcETag:
		return changed(OpCopyPart, src)
	case off < 0 || off+length > int64(len(o.data)):
		return fmt.Errorf("memstore: copy of [%d, %d) of %s, which has %d bytes", off, off+length, src, len(o.data))
	}
	return u.setPart(n, bytes.Clone(o.data[off:off+length]))
}

func (u *upload) Complete(ctx context.Context, cond bucket.Condition) (string, error) {
	if err := u.s.before(OpComplete, u.key); err != nil {
		return "", err
	}
	u.mu.Lock()
	nums := make([]int32, 0, len(u.parts))
	for n := range u.parts {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	var data []byte
	for i, n := range nums {
		if i < len(nums)-1 && len(u.parts[n]) < minPart {
			u.mu.Unlock()
			return "", fmt.Errorf("memstore: EntityTooSmall: part %d of %s has %d bytes", n, u.key, len(u.parts[n]))
		}
		data = append(data, u.parts[n]...)
	}
	u.mu.Unlock()
	if len(nums) == 0 {
		return "", fmt.Errorf("memstore: MalformedXML: completing %s with no parts", u.key)
	}
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	if _, ok := u.s.uploads[u]; !ok {
		return "", &bucket.Error{Op: OpComplete, Object: u.key, Kind: bucket.ErrNotFound, Err: fmt.Errorf("404 NoSuchUpload")}
	}
	if err := u.s.checkLocked(OpComplete, u.key, cond); err != nil {
		return "", err
	}
	delete(u.s.uploads, u)
	return u.s.storeLocked(u.key, data, u.meta), nil
}

func (u *upload) Abort() error {
	if err := u.s.before(OpAbort, u.key); err != nil {
		return err
	}
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	delete(u.s.uploads, u)
	return nil
}
