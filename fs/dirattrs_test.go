package fs

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/internal/memstore"
)

func setAttrIn(mode, uid, gid *uint32, mtime, atime *time.Time) *fuse.SetAttrIn {
	in := &fuse.SetAttrIn{}
	if mode != nil {
		in.Valid |= fuse.FATTR_MODE
		in.Mode = *mode
	}
	if uid != nil {
		in.Valid |= fuse.FATTR_UID
		in.Uid = *uid
	}
	if gid != nil {
		in.Valid |= fuse.FATTR_GID
		in.Gid = *gid
	}
	if mtime != nil {
		in.Valid |= fuse.FATTR_MTIME
		in.Mtime, in.Mtimensec = uint64(mtime.Unix()), uint32(mtime.Nanosecond())
	}
	if atime != nil {
		in.Valid |= fuse.FATTR_ATIME
		in.Atime, in.Atimensec = uint64(atime.Unix()), uint32(atime.Nanosecond())
	}
	return in
}

// A directory's mode, owner, times and extended attributes are kept in its marker's
// metadata, s3fs-compatible, and read back by another mount of the same bucket (on a
// store that keeps marker metadata, as AWS does; SeaweedFS does not, so this is tested
// here rather than end to end).
func TestDirectoryAttributesPersistInTheMarker(t *testing.T) {
	store := memstore.New()
	ctx := context.Background()
	f := New(store, nil, Options{UID: 1, GID: 1, DirMode: 0o755})
	d := newDirNode(f, "dir/")
	var out fuse.AttrOut
	if errno := d.Getattr(ctx, nil, &out); errno != 0 || out.Mode != syscall.S_IFDIR|0o755 || out.Uid != 1 {
		t.Fatalf("implicit directory: %v, mode %#o uid %d; want the mount's defaults", errno, out.Mode, out.Uid)
	}
	mtime := time.Unix(1600000000, 123456789)
	atime := time.Unix(1500000000, 5)
	if errno := d.Setattr(ctx, nil, setAttrIn(u32(0o1700), u32(1234), u32(5678), &mtime, &atime), &out); errno != 0 {
		t.Fatalf("Setattr: %v", errno)
	}
	if out.Mode != syscall.S_IFDIR|0o1700 || out.Uid != 1234 || out.Gid != 5678 || out.Mtime != 1600000000 || out.Atime != 1500000000 {
		t.Errorf("after Setattr, in memory: %+v", out.Attr)
	}
	if out.Ctime < uint64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("ctime %d did not move with the change", out.Ctime)
	}
	if errno := d.Setxattr(ctx, "user.note", []byte("kept\x00binary"), 0); errno != 0 {
		t.Fatalf("Setxattr: %v", errno)
	}
	m := storedMeta(store, "dir/")
	if m["mode"] != "17344" || m["uid"] != "1234" || m["gid"] != "5678" || m["mtime"] != "1600000000.123456789" || m["atime"] != "1500000000.000000005" || m["xattr"] == "" {
		t.Errorf("marker metadata: %v", m)
	}

	// Another mount of the bucket reads them back.
	f2 := New(store, nil, Options{UID: 1, GID: 1, DirMode: 0o755})
	d2 := newDirNode(f2, "dir/")
	var out2 fuse.AttrOut
	if errno := d2.Getattr(ctx, nil, &out2); errno != 0 {
		t.Fatal(errno)
	}
	if out2.Mode != out.Mode || out2.Uid != 1234 || out2.Gid != 5678 || out2.Mtime != out.Mtime || out2.Mtimensec != 123456789 || out2.Atime != out.Atime || out2.Ctime != out.Ctime {
		t.Errorf("read back: %+v\nwant %+v", out2.Attr, out.Attr)
	}
	buf := make([]byte, 64)
	if n, errno := d2.Getxattr(ctx, "user.note", buf); errno != 0 || string(buf[:n]) != "kept\x00binary" {
		t.Errorf("xattr read back: %q, %v", buf[:n], errno)
	}
}

func TestXattrSemantics(t *testing.T) {
	store := memstore.New()
	ctx := context.Background()
	f := New(store, nil, Options{})
	d := newDirNode(f, "x/")
	if errno := d.Setxattr(ctx, "security.capability", []byte("x"), 0); errno != syscall.EOPNOTSUPP {
		t.Errorf("security.* set: %v, want EOPNOTSUPP", errno)
	}
	if _, errno := d.Getxattr(ctx, "system.posix_acl_access", nil); errno != syscall.EOPNOTSUPP {
		t.Errorf("system.* get: %v, want EOPNOTSUPP", errno)
	}
	if _, errno := d.Getxattr(ctx, "user.missing", nil); errno != syscall.ENODATA {
		t.Errorf("missing: %v, want ENODATA", errno)
	}
	if errno := d.Setxattr(ctx, "user.a", []byte("1"), xattrReplace); errno != syscall.ENODATA {
		t.Errorf("XATTR_REPLACE of a missing name: %v, want ENODATA", errno)
	}
	if errno := d.Setxattr(ctx, "user.a", []byte("12345"), xattrCreate); errno != 0 {
		t.Fatal(errno)
	}
	if errno := d.Setxattr(ctx, "user.a", []byte("1"), xattrCreate); errno != syscall.EEXIST {
		t.Errorf("XATTR_CREATE of an existing name: %v, want EEXIST", errno)
	}
	if n, errno := d.Getxattr(ctx, "user.a", nil); errno != syscall.ERANGE || n != 5 {
		t.Errorf("size query: %d, %v; want 5, ERANGE (go-fuse turns it into the size)", n, errno)
	}
	if errno := d.Setxattr(ctx, "user.b", nil, 0); errno != 0 {
		t.Fatal(errno)
	}
	list := make([]byte, 100)
	if n, errno := d.Listxattr(ctx, list); errno != 0 || string(list[:n]) != "user.a\x00user.b\x00" {
		t.Errorf("list: %q, %v", list[:n], errno)
	}
	big := make([]byte, 3000)
	if errno := d.Setxattr(ctx, "user.big", big, 0); errno != syscall.E2BIG {
		t.Errorf("3000-byte value: %v, want E2BIG (S3 keeps 2 KB of metadata)", errno)
	}
	if _, errno := d.Getxattr(ctx, "user.big", nil); errno != syscall.ENODATA {
		t.Errorf("a refused value was kept: %v", errno)
	}
	if errno := d.Removexattr(ctx, "user.a"); errno != 0 {
		t.Fatal(errno)
	}
	if errno := d.Removexattr(ctx, "user.a"); errno != syscall.ENODATA {
		t.Errorf("removing twice: %v, want ENODATA", errno)
	}
	if x := parseMeta(storedMeta(store, "x/")).xattrs; len(x) != 1 || x["user.b"] == nil {
		t.Errorf("stored xattrs %v; want user.b only", x)
	}
}

// s3fs's encoding: JSON of name -> base64, URL-encoded; read both ways.
func TestXattrEncodingIsS3fs(t *testing.T) {
	x := map[string][]byte{"user.comment": []byte("hello world"), "user.b": {0, 1, 2}}
	enc := encodeXattrs(x)
	if enc != "%7B%22user.b%22%3A%22AAEC%22%2C%22user.comment%22%3A%22aGVsbG8gd29ybGQ%3D%22%7D" {
		t.Errorf("encoded: %s", enc)
	}
	got := parseXattrs(enc)
	if len(got) != 2 || string(got["user.comment"]) != "hello world" || string(got["user.b"]) != "\x00\x01\x02" {
		t.Errorf("parsed back: %v", got)
	}
	// As s3fs writes it (its own URL encoding), and unencoded JSON too.
	if got := parseXattrs(`{"user.s3fs":"dmFsdWU="}`); string(got["user.s3fs"]) != "value" {
		t.Errorf("plain JSON: %v", got)
	}
	if got := parseXattrs("not json"); got != nil {
		t.Errorf("garbage: %v", got)
	}
}

// storedMeta is the user metadata stored with key.
func storedMeta(s *memstore.Store, key string) map[string]string {
	_, meta, _, _ := s.Object(key)
	return meta
}
