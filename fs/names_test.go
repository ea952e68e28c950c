package fs

import (
	"strings"
	"syscall"
	"testing"
)

func TestBadName(t *testing.T) {
	cases := []struct {
		name string
		bad  bool
		why  string // part of the reason, when bad
	}{
		{"", true, "empty"},
		{".", true, ". or .."},
		{"..", true, ". or .."},
		{"...", false, ""},
		{".hidden", false, ""},
		{"..x", false, ""},
		{"a", false, ""},
		{"with space", false, ""},
		{"ünïcödé", false, ""},
		{strings.Repeat("x", 255), false, ""},
		{strings.Repeat("x", 256), true, "255"},
		{strings.Repeat("é", 127), false, ""},   // 254 bytes
		{strings.Repeat("é", 128), true, "255"}, // 256 bytes: the limit is in bytes, not runes
		{"nul\x00byte", true, "NUL"},
		{"\x00", true, "NUL"},
		{"trailing\x00", true, "NUL"},
	}
	for _, tc := range cases {
		got := badName(tc.name)
		if (got != "") != tc.bad {
			t.Errorf("badName(%q) = %q, want bad=%v", tc.name, got, tc.bad)
			continue
		}
		if tc.bad && !strings.Contains(got, tc.why) {
			t.Errorf("badName(%q) = %q, want a reason mentioning %q", tc.name, got, tc.why)
		}
	}
}

func TestChildName(t *testing.T) {
	cases := []struct {
		prefix, key string
		name        string
		dir         bool
	}{
		{"", "file", "file", false},
		{"", "dir/", "dir", true},
		{"a/", "a/b/", "b", true},
		{"a/", "a/c", "c", false},
		{"a/b/", "a/b/c.txt", "c.txt", false},
		{"a/b/", "a/b/d/", "d", true},
		{"a/", "a//", "", true}, // empty segment: badName rejects it
		{"", "./", ".", true},   // rejected by badName
		{"", "../", "..", true}, // rejected by badName
		{"a/", "a/x y", "x y", false},
		{"a/", "a/.", ".", false}, // an object named "." is rejected by badName
	}
	for _, tc := range cases {
		name, dir := childName(tc.prefix, tc.key)
		if name != tc.name || dir != tc.dir {
			t.Errorf("childName(%q, %q) = %q, %v; want %q, %v", tc.prefix, tc.key, name, dir, tc.name, tc.dir)
		}
	}
}

func TestNewNameErrno(t *testing.T) {
	long := strings.Repeat("k", 1000)
	cases := []struct {
		prefix, name, suffix string
		want                 syscall.Errno
	}{
		{"", "a", "", 0},
		{"d/", strings.Repeat("x", 255), "", 0},
		{"d/", strings.Repeat("x", 256), "", syscall.ENAMETOOLONG},
		{long + "/", strings.Repeat("x", 23), "", 0},
		{long + "/", strings.Repeat("x", 24), "", syscall.ENAMETOOLONG},  // key of 1,025 bytes
		{long + "/", strings.Repeat("x", 23), "/", syscall.ENAMETOOLONG}, // the marker's "/" counts
		{"", "caf\xe9", "", syscall.EILSEQ},
		{"", "\xff\xfe", "", syscall.EILSEQ},
		{"", "café", "", 0},
		{"", ".", "", syscall.EINVAL},
		{"", "..", "", syscall.EINVAL},
		{"", "a\x00b", "", syscall.EINVAL},
	}
	for _, tc := range cases {
		if got := newNameErrno(tc.prefix, tc.name, tc.suffix); got != tc.want {
			t.Errorf("newNameErrno(%d-byte prefix, %q, %q) = %v, want %v", len(tc.prefix), tc.name, tc.suffix, got, tc.want)
		}
	}
	if got := lookupErrno("", strings.Repeat("x", 256)); got != syscall.ENAMETOOLONG {
		t.Errorf("lookup of a 256-byte name = %v, want ENAMETOOLONG", got)
	}
	if got := lookupErrno("", "caf\xe9"); got != syscall.ENOENT {
		t.Errorf("lookup of a non-UTF-8 name = %v, want ENOENT", got)
	}
}
