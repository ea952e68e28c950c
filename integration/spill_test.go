package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Edits of an existing file that touch more pages than --write-buffer holds succeed:
// pages leave memory sealed in an unlinked spill file whose key exists only in memory,
// and the spill file holds no plaintext.
func TestEditsLargerThanTheWriteBufferSpillEncrypted(t *testing.T) {
	f := newFixture(t)
	const size = 48 << 20
	original := randomBytes(size, 48)
	f.put("big", original)
	mp := f.mount("--write-buffer", "24MiB", "--part-size", "8MiB", "--log-level", "debug", "--log-file", filepath.Join(f.dir, "log"))
	pids := pidsServing(mp)
	if len(pids) != 1 {
		t.Fatalf("%d processes serve the mount", len(pids))
	}

	marker := []byte("SPILL-PLAINTEXT-MARKER-") // written into every touched page
	want := bytes.Clone(original)
	file, err := os.OpenFile(filepath.Join(mp, "big"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for mib := int64(0); mib < size>>20; mib++ {
		off := mib<<20 + 4096
		if _, err := file.WriteAt(marker, off); err != nil {
			t.Fatalf("write at %d MiB: %v", mib, err)
		}
		copy(want[off:], marker)
	}
	// Before close: the spill file exists, unlinked, and holds only ciphertext.
	spills := deletedSpillFiles(t, pids[0])
	if len(spills) == 0 {
		t.Error("48 touched pages with a 24 MiB write buffer, but no spill file is open")
	}
	for _, fd := range spills {
		raw, err := os.ReadFile(fd)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) == 0 {
			t.Errorf("spill file %s is empty", fd)
		}
		if bytes.Contains(raw, marker) || bytes.Contains(raw, original[1<<20:1<<20+64]) {
			t.Errorf("the spill file holds plaintext")
		}
	}
	// Reads before close see the edits, from memory and from the spill alike.
	got := make([]byte, size)
	if _, err := file.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("read before close differs (%v)", err)
	}
	if err := file.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	obj, err := f.getObject("big")
	if err != nil || !bytes.Equal(obj, want) {
		t.Errorf("the saved object differs from the edits (%d bytes, %v)", len(obj), err)
	}
	log, _ := os.ReadFile(filepath.Join(f.dir, "log"))
	if !strings.Contains(string(log), "encrypted spill file") {
		t.Errorf("the log never mentions spilling")
	}
}

// deletedSpillFiles returns /proc paths of the spill files a process has open.
func deletedSpillFiles(t *testing.T, pid string) []string {
	t.Helper()
	fds, _ := filepath.Glob("/proc/" + pid + "/fd/*")
	var out []string
	for _, fd := range fds {
		target, err := os.Readlink(fd)
		if err == nil && strings.Contains(target, "ssecfs-spill-") {
			if !strings.HasSuffix(target, "(deleted)") {
				t.Errorf("spill file %s is linked in a directory", target)
			}
			out = append(out, fd)
		}
	}
	return out
}
