package fs

import (
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ssecfs/ssecfs/bucket"
)

// A listing sent before a save must not bring back the size and version the save
// replaced: the kernel would then pad reads of the new version with zeros up to the old
// size, or cut them short at it (issue 8, item 1).
func TestOlderNewsNeverReplacesNewer(t *testing.T) {
	f, _ := newTestFS(t, newFakeStore(10), 0)
	d := newDirNode(f, "")
	listingSent := time.Now().Add(-time.Second)
	saved := listingSent.Add(time.Millisecond)

	// The save lands first, the listing's answer (sent before it) after.
	d.noteListed("f", bucket.Entry{Key: "f", Size: 15 << 20, ETag: `"new"`}, saved)
	d.noteListed("f", bucket.Entry{Key: "f", Size: 15 << 10, ETag: `"old"`}, listingSent)
	c, ok, _ := d.fromListing("f")
	if !ok || c.entry.ETag != `"new"` || c.entry.Size != 15<<20 {
		t.Fatalf("after an older listing: %+v; want the saved version", c.entry)
	}

	// The whole listing ends: it keeps the save, made after it was sent.
	d.listingDone(map[string]listedChild{"f": {entry: bucket.Entry{Key: "f", Size: 15 << 10, ETag: `"old"`}, at: listingSent}}, listingSent)
	if c, _, _ := d.fromListing("f"); c.entry.ETag != `"new"` {
		t.Fatalf("after listingDone: %+v; want the saved version", c.entry)
	}

	// A file created here after the listing was sent is not forgotten by it.
	d.noteListed("created", bucket.Entry{Key: "created"}, saved)
	d.listingDone(map[string]listedChild{}, listingSent)
	if _, ok, _ := d.fromListing("created"); !ok {
		t.Fatal("a file created after the listing was sent was forgotten by it")
	}

	// A name removed here is not brought back by a listing sent before the removal.
	d.forgetListed("created")
	d.noteListed("created", bucket.Entry{Key: "created"}, listingSent)
	if c, ok, _ := d.fromListing("created"); !ok || !c.gone {
		t.Fatalf("a removed name came back from an older listing: %+v, %v", c, ok)
	}

	// A newer listing does replace what is known.
	later := time.Now().Add(time.Second)
	d.noteListed("f", bucket.Entry{Key: "f", Size: 1, ETag: `"newer"`}, later)
	if c, _, _ := d.fromListing("f"); c.entry.ETag != `"newer"` {
		t.Fatalf("a newer listing was ignored: %+v", c.entry)
	}
}

func TestFileNodeKeepsNewerAttributes(t *testing.T) {
	f, _ := newTestFS(t, newFakeStore(10), 0)
	sent := time.Now()
	n := &fileNode{fsys: f, key: "f"}
	var out fuse.Attr
	n.update(f.attrsFromHead(bucket.ObjectInfo{Key: "f", Size: 100, ETag: `"new"`}, sent.Add(time.Millisecond)), &out)
	n.update(f.attrsFromListing(bucket.Entry{Key: "f", Size: 7, ETag: `"old"`}, sent), &out)
	if out.Size != 100 || n.attrs.etag != `"new"` {
		t.Fatalf("an older listing replaced newer attributes: size %d etag %s", out.Size, n.attrs.etag)
	}
	n.update(f.attrsFromListing(bucket.Entry{Key: "f", Size: 9, ETag: `"newer"`}, sent.Add(time.Second)), &out)
	if out.Size != 9 || n.attrs.etag != `"newer"` {
		t.Fatalf("a newer listing was ignored: size %d etag %s", out.Size, n.attrs.etag)
	}
}
