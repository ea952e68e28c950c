package main

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct{ in, bucket, prefix string }{
		{"b", "b", ""},
		{"s3://b/a/b/", "b", "a/b/"},
		{"b/", "b", ""},
		{"b/x", "b", "x/"},
		{"b/..x/y.", "b", "..x/y./"},
		{"b/.hidden/...", "b", ".hidden/.../"},
	} {
		if b, p, err := parseTarget(tc.in); err != nil || b != tc.bucket || p != tc.prefix {
			t.Errorf("parseTarget(%q) = %q, %q, %v", tc.in, b, p, err)
		}
	}
	if _, _, err := parseTarget("/x"); err == nil {
		t.Error("a target without a bucket was accepted")
	}
}

// A prefix is a list of key segments, not a path to resolve: ".", ".." and empty
// segments are refused with what was wrong and how to write it instead.
func TestParseTargetRefusesDotAndEmptySegments(t *testing.T) {
	for _, tc := range []struct{ in, what, suggest string }{
		{"bucket/a/../b", `".."`, "bucket/b"},
		{"bucket/./x", `"."`, "bucket/x"},
		{"bucket//x", "empty", "bucket/x"},
		{"s3://bucket/x//y/", "empty", "bucket/x/y"},
		{"bucket/x/..", `".."`, "bucket"},
		{"bucket/..", `".."`, "bucket"},
		{"bucket/.", `"."`, "bucket"},
		{"bucket//", "empty", "bucket"},
		{"bucket/a/b/.", `"."`, "bucket/a/b"},
		{"bucket/../../etc", `".."`, "bucket/etc"},
	} {
		_, _, err := parseTarget(tc.in)
		if err == nil {
			t.Errorf("parseTarget(%q) accepted it", tc.in)
			continue
		}
		msg := err.Error()
		for _, want := range []string{tc.in, tc.what, "write it as \"" + tc.suggest + "\""} {
			if !strings.Contains(msg, want) {
				t.Errorf("parseTarget(%q): error %q does not say %q", tc.in, msg, want)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("parseTarget(%q): error is not one line: %q", tc.in, msg)
		}
	}
}
