package fs

import (
	"context"
	"testing"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/internal/memstore"
)

// An object whose metadata says uid 0 and gid 0 shows as owned by root, as the README
// promises, even when the mount's default owner (--uid, --gid) is someone else; an
// object without metadata shows the default. Asked through go-fuse's bridge with the
// options Mount gives it, which must not take a zero owner for "none".
func TestZeroOwnerFromMetadataIsShown(t *testing.T) {
	store := memstore.New()
	ctx := context.Background()
	for key, meta := range map[string]map[string]string{
		"root-owned":  {"uid": "0", "gid": "0", "mode": "33188"},
		"user-owned":  {"uid": "7", "gid": "8", "mode": "33188"},
		"no-metadata": nil,
		"dir/":        {"uid": "0", "gid": "0", "mode": "16877"},
	} {
		if _, err := store.Put(ctx, key, []byte("x"), meta, bucket.Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	f := New(store, nil, Options{UID: 1000, GID: 1001})
	raw := gofs.NewNodeFS(f.Root(), f.nodeOptions(MountOptions{}))
	for name, want := range map[string][2]uint32{
		"root-owned":  {0, 0},
		"user-owned":  {7, 8},
		"no-metadata": {1000, 1001},
		"dir":         {0, 0},
	} {
		var entry fuse.EntryOut
		if st := raw.Lookup(nil, &fuse.InHeader{NodeId: fuse.FUSE_ROOT_ID}, name, &entry); !st.Ok() {
			t.Errorf("lookup %s: %v", name, st)
			continue
		}
		var attr fuse.AttrOut
		if st := raw.GetAttr(nil, &fuse.GetAttrIn{InHeader: fuse.InHeader{NodeId: entry.NodeId}}, &attr); !st.Ok() {
			t.Errorf("getattr %s: %v", name, st)
			continue
		}
		if got := [2]uint32{attr.Uid, attr.Gid}; got != want {
			t.Errorf("%s is owned by %d:%d; want %d:%d", name, got[0], got[1], want[0], want[1])
		}
	}
}
