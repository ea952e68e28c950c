package main

import (
	"os"
	"strings"
)

// keptMarker starts the part of the report file that people write and the bench keeps:
// what each change to the data path bought, measured when it was made. Everything from
// the marker to the end of the file the report replaces is carried over, under the new
// measurements.
const keptMarker = "<!-- Kept by make bench: everything below is written by hand. -->"

// keptNotes is the hand-written part of the report file at path, marker included, or ""
// if the file or the marker is not there.
func keptNotes(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	i := strings.Index(string(data), keptMarker)
	if i < 0 {
		return ""
	}
	return "\n" + string(data[i:])
}
