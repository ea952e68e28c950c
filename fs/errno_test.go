package fs

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/ssecfs/ssecfs/bucket"
)

// A save that fails is always logged at error level, whatever its cause: close or fsync
// was told the data is not in S3. A failed open of a missing object stays at debug.
func TestFailedSaveIsAnErrorWhateverItsCause(t *testing.T) {
	f, log := newTestFS(t, newFakeStore(10), 0)
	notFound := &bucket.Error{Op: "UploadPart", Object: "k", Kind: bucket.ErrNotFound, Err: errors.New("404 NoSuchUpload")}
	if e := f.errno("save", "k", notFound); e != syscall.ENOENT {
		t.Errorf("errno = %v, want ENOENT", e)
	}
	if !strings.Contains(log.String(), "level=ERROR msg=\"save failed\"") {
		t.Errorf("a failed save was not logged at error level:\n%s", log)
	}
	log.Reset()
	f.errno("open", "k", notFound)
	if !strings.Contains(log.String(), "level=DEBUG") {
		t.Errorf("a missing object on open should stay at debug:\n%s", log)
	}
}
