package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"256MiB", 256 << 20, false},
		{"1GiB", 1 << 30, false},
		{"64M", 64 << 20, false},
		{"10MB", 10_000_000, false},
		{"1048576", 1 << 20, false},
		{" 2 KiB ", 2048, false},
		{"", 0, true},
		{"-1MiB", 0, true},
		{"lots", 0, true},
		{"1.5GiB", 0, true},
		{"99999999999TiB", 0, true},
	} {
		got, err := parseBytes(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
	if s := formatBytes(256 << 20); s != "256MiB" {
		t.Errorf("formatBytes(256MiB) = %q", s)
	}
}

func TestFileMode(t *testing.T) {
	var m fileMode
	if err := m.Set("0640"); err != nil || m != 0o640 {
		t.Errorf("Set(0640) = %v, %o", err, m)
	}
	for _, bad := range []string{"9", "rw-r--r--", "77777"} {
		if err := m.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	k := fs.String("key-file", "", "")
	ro := fs.Bool("read-only", false, "")
	pos, err := parseInterspersed(fs, []string{"bucket/p", "--key-file", "k", "/mnt", "--read-only"})
	if err != nil || !slices.Equal(pos, []string{"bucket/p", "/mnt"}) || *k != "k" || !*ro {
		t.Fatalf("got %v %v key=%q ro=%v", pos, err, *k, *ro)
	}
}
