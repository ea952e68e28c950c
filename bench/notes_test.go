package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKeptNotesCarryOver(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "BENCHMARKS.md")
	if got := keptNotes(path); got != "" {
		t.Errorf("no file: %q, want nothing", got)
	}
	if err := os.WriteFile(path, []byte("# old report\n| a | b |\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := keptNotes(path); got != "" {
		t.Errorf("no marker: %q, want nothing", got)
	}
	notes := keptMarker + "\n\n## What each change bought\n- one\n"
	if err := os.WriteFile(path, []byte("# old report\n| a | b |\n\n"+notes), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := keptNotes(path); got != "\n"+notes {
		t.Errorf("keptNotes = %q, want %q", got, "\n"+notes)
	}
}
