package main

import (
	"strings"
	"testing"
)

// FuzzParseBytes: parseBytes never panics, never returns a negative or oversized size,
// and formatBytes writes every accepted size so that parseBytes reads it back exactly.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{
		"0", "1", "1048576", "256MiB", "1GiB", "64M", "10MB", "2TB", "3PB", "1PiB", "2P",
		" 2 KiB ", "4096PiB", "4097PiB", "4611PB", "9223372036854775807", "-1MiB", "+5K",
		"1.5GiB", "PiB", "B", "", "lots", "99999999999TiB", "0x10", "1_000", "1e9", "5iB",
		"1KiBKiB", "\t7T\n", "٣MiB",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseBytes(s)
		if err != nil {
			if v != 0 {
				t.Errorf("parseBytes(%q) = %d with error %v", s, v, err)
			}
			if !strings.Contains(err.Error(), "write it like") {
				t.Errorf("parseBytes(%q): error %q does not say how to write a size", s, err)
			}
			return
		}
		if v < 0 || v > maxBytes {
			t.Fatalf("parseBytes(%q) = %d: outside 0..%d", s, v, int64(maxBytes))
		}
		out := formatBytes(v)
		back, err := parseBytes(out)
		if err != nil || back != v {
			t.Fatalf("parseBytes(%q) = %d; formatBytes gives %q, which parses as %d, %v", s, v, out, back, err)
		}
		var b byteSize
		if err := b.Set(s); err != nil || int64(b) != v || b.String() != out {
			t.Errorf("byteSize.Set(%q) = %v, %d, %q; want %d, %q", s, err, int64(b), b.String(), v, out)
		}
	})
}

// FuzzParseTarget: parseTarget never panics; what it accepts is a bucket without "/"
// and a prefix of real key segments ending in "/", which parses again to itself.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"b", "b/", "s3://b", "s3://b/a/b/", "b/x", "b/..x/y.", "bucket/a/../b", "bucket/./x",
		"bucket//x", "bucket//", "/x", "s3://", "s3:///x", "", "b/a b/ü/", "b/x/..", "s3://s3://b",
		"b/\x00/", "b/.../", "b///",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bucket, prefix, err := parseTarget(s)
		if err != nil {
			if bucket != "" || prefix != "" {
				t.Errorf("parseTarget(%q) = %q, %q with error %v", s, bucket, prefix, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("parseTarget(%q): error is not one line: %q", s, err)
			}
			return
		}
		if bucket == "" || strings.Contains(bucket, "/") {
			t.Errorf("parseTarget(%q): bucket %q", s, bucket)
		}
		if prefix != "" {
			if !strings.HasSuffix(prefix, "/") {
				t.Errorf("parseTarget(%q): prefix %q does not end in /", s, prefix)
			}
			for _, seg := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Errorf("parseTarget(%q): prefix %q has the segment %q", s, prefix, seg)
				}
			}
		}
		b2, p2, err := parseTarget(bucket + "/" + prefix)
		if err != nil || b2 != bucket || p2 != prefix {
			t.Errorf("parseTarget(%q) = %q, %q, but %q parses as %q, %q, %v", s, bucket, prefix, bucket+"/"+prefix, b2, p2, err)
		}
	})
}
