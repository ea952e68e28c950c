package writeback

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSpillRoundTripAndNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	s, err := newSpillFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the spill file is still linked: %v", entries)
	}
	pages := [][]byte{
		bytes.Repeat([]byte("PLAINTEXT-MARKER"), writePage/16),
		bytes.Repeat([]byte{0}, writePage),
		bytes.Repeat([]byte("another page...."), writePage/16),
	}
	slots := make([]int64, len(pages))
	for i, p := range pages {
		if slots[i], err = s.put(p); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(s.f.Fd()))))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < len(pages)*writePage {
		t.Fatalf("spill file holds %d bytes for %d pages", len(raw), len(pages))
	}
	if bytes.Contains(raw, []byte("PLAINTEXT-MARKER")) || strings.Contains(string(raw), "another page") {
		t.Fatal("the spill file holds plaintext")
	}
	for i, p := range pages {
		got := make([]byte, writePage)
		if err := s.get(slots[i], got); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("page %d: %v, equal %v", i, err, bytes.Equal(got, p))
		}
	}
	// A page read from the wrong slot, or altered on disk, is refused.
	if _, err := s.f.WriteAt([]byte{'x'}, slots[1]*spillSlot+100); err != nil {
		t.Fatal(err)
	}
	if err := s.get(slots[1], make([]byte, writePage)); err == nil {
		t.Error("an altered page was accepted")
	}
	s.release(slots[0])
	if slot, _ := s.put(pages[2]); slot != slots[0] {
		t.Errorf("a released slot was not reused: got %d, want %d", slot, slots[0])
	}
}
