package fs

import (
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// After a listing error the same stream asks for the failed page again, so a transient
// error does not make a directory look empty or cut short.
func TestDirStreamRetriesAfterError(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e"}
	for _, failOn := range []int{1, 2} {
		for _, rewind := range []bool{false, true} {
			store := newFakeStore(2, keys...)
			store.failOn, store.failErr = failOn, errors.New("connection reset")
			f, _ := newTestFS(t, store, time.Minute)
			ds := openStream(t, newDirNode(f, ""))
			var before []string
			for ds.HasNext() {
				e, errno := ds.Next()
				if errno != 0 {
					if errno != syscall.EIO {
						t.Fatalf("errno %v", errno)
					}
					break
				}
				before = append(before, e.Name)
			}
			var after []testEntry
			if rewind {
				if errno := ds.(gofs.FileSeekdirer).Seekdir(context.Background(), 0); errno != 0 {
					t.Fatal(errno)
				}
				after = drain(t, ds, 0)
			} else {
				after = drain(t, ds, uint64(len(before)))
			}
			var names []string
			if !rewind {
				names = before
			}
			for _, e := range after {
				names = append(names, e.Name)
			}
			if !slices.Equal(names, keys) {
				t.Errorf("failOn %d rewind %v: listing after the error = %q, want %q", failOn, rewind, names, keys)
			}
		}
	}
}
