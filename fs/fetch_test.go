package fs

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/cache"
	"github.com/ssecfs/ssecfs/internal/memstore"
)

// An open pinned to a listed version sends no HEAD, so the object's metadata (mode,
// owner, times), which listings do not carry, comes with the first read's GET: after
// it the file shows what a HEAD would have shown, and the next open still asks.
func TestFirstReadTeachesTheMetadataAListingLacks(t *testing.T) {
	w := newWalkTree(t, 4<<20, cache.Options{}, Options{StatTTL: time.Minute, FileMode: 0o644, UID: 1000, GID: 1000})
	mtime := time.Unix(1600000000, 0)
	body := fileBody(0, 5000)
	if _, err := w.store.Put(context.Background(), "a", body, encodeMeta(syscall.S_IFREG|0o600, 123, 456, mtime), bucket.Condition{}); err != nil {
		t.Fatal(err)
	}
	w.list(w.root())
	id, before := w.lookup(fuse.FUSE_ROOT_ID, "a")
	if before.Mode&0o777 != 0o644 || before.Uid != 1000 {
		t.Fatalf("from the listing: mode %o uid %d; want the defaults 644 and 1000", before.Mode&0o777, before.Uid)
	}
	fh := w.open(id, "a")
	if got, st := w.read(id, fh, 0, 8192); !st.Ok() || len(got) != len(body) {
		t.Fatalf("read: %d bytes, %v", len(got), st)
	}
	w.release(id, fh)
	var out fuse.AttrOut
	if st := w.raw.GetAttr(nil, &fuse.GetAttrIn{InHeader: fuse.InHeader{NodeId: id}}, &out); !st.Ok() {
		t.Fatal(st)
	}
	if out.Mode&0o777 != 0o600 || out.Uid != 123 || out.Gid != 456 || out.Mtime != uint64(mtime.Unix()) || out.Size != uint64(len(body)) {
		t.Errorf("after the read: mode %o uid %d gid %d mtime %d size %d; want 600 123 456 %d %d",
			out.Mode&0o777, out.Uid, out.Gid, out.Mtime, out.Size, mtime.Unix(), len(body))
	}
	if heads := w.countOp(memstore.OpHead); heads != 0 {
		t.Errorf("%d HEAD sent; want none", heads)
	}
	// A GET is not a HEAD: a second open still asks what is current.
	fh = w.open(id, "a")
	w.release(id, fh)
	if heads := w.countOp(memstore.OpHead); heads != 1 {
		t.Errorf("the second open sent %d HEAD; want 1", heads)
	}
}

// A file the mount knows from a listing only (its node made from the listing, as after
// the kernel forgot the one that held the object's metadata) keeps its metadata across
// a rename, with ctime moved to the rename's time: the rename reads the metadata first
// rather than letting the copy keep the source's, ctime included.
func TestRenameOfAListedFileMovesCtime(t *testing.T) {
	w := newWalkTree(t, 4<<20, cache.Options{}, Options{StatTTL: time.Minute, FileMode: 0o644, UID: 1000, GID: 1000})
	old := time.Unix(1500000000, 0)
	meta := encodeMeta(syscall.S_IFREG|0o600, 123, 456, old)
	meta["ctime"] = "1500000000"
	if _, err := w.store.Put(context.Background(), "a", []byte("content"), meta, bucket.Condition{}); err != nil {
		t.Fatal(err)
	}
	w.list(w.root())
	w.lookup(fuse.FUSE_ROOT_ID, "a")
	start := time.Now()
	if st := w.raw.Rename(nil, &fuse.RenameIn{InHeader: fuse.InHeader{NodeId: fuse.FUSE_ROOT_ID}, Newdir: fuse.FUSE_ROOT_ID}, "a", "b"); !st.Ok() {
		t.Fatalf("rename: %v", st)
	}
	data, got, _, ok := w.store.Object("b")
	if !ok || string(data) != "content" {
		t.Fatalf("b after the rename: %q, %v", data, ok)
	}
	m := parseMeta(got)
	if m.mode == nil || *m.mode&0o777 != 0o600 || m.uid == nil || *m.uid != 123 || m.mtime == nil || !m.mtime.Equal(old) {
		t.Errorf("b's metadata %v lost the source's mode, owner or mtime", got)
	}
	if m.ctime == nil || m.ctime.Before(start.Add(-time.Second)) {
		t.Errorf("b's ctime %v; want the rename's time (about %v), not the source's", got["ctime"], start)
	}
}
