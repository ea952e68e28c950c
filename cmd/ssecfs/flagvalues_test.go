package main

import (
	"strings"
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
		{"2TB", 2_000_000_000_000, false},
		{"3PB", 3_000_000_000_000_000, false},
		{"1PiB", 1 << 50, false},
		{"2P", 2 << 50, false},
		{"4096PiB", 1 << 62, false},
		{"4097PiB", 0, true},
		{"4611PB", 4_611_000_000_000_000_000, false},
		{"4612PB", 0, true},
		{"9223372036854775807", 0, true},
		{"PiB", 0, true},
		{"1 PB", 1_000_000_000_000_000, false},
	} {
		got, err := parseBytes(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
	for n, want := range map[int64]string{256 << 20: "256MiB", 3 << 50: "3PiB", 1 << 62: "4096PiB", 1000: "1000", 0: "0"} {
		if s := formatBytes(n); s != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, s, want)
		}
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

// --help says which size units there are, and every one it names is accepted.
func TestMountHelpDescribesSizes(t *testing.T) {
	var out strings.Builder
	cmd := newMountCmd()
	cmd.SetOut(&out)
	cmd.HelpFunc()(cmd, nil)
	help := out.String()
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB", "PiB", "KB", "MB", "GB", "TB", "PB", " K,", " P:", "powers of 1024", "powers of 1000"} {
		if !strings.Contains(help, unit) {
			t.Errorf("mount --help does not mention %q:\n%s", unit, help)
		}
	}
	for _, u := range sizeUnits {
		if _, err := parseBytes("3" + u.suffix); err != nil {
			t.Errorf("unit %s is listed but refused: %v", u.suffix, err)
		}
	}
}
