package main

import (
	"fmt"
	"strings"
)

// target is the BUCKET[/PREFIX] a command works on: prefix is "" or ends in "/".
type target struct {
	bucket, prefix string
}

// set reads BUCKET[/PREFIX] into t.
func (t *target) set(arg string) error {
	var err error
	if t.bucket, t.prefix, err = parseTarget(arg); err != nil {
		return invalid(err)
	}
	return nil
}

// parseTarget splits "BUCKET[/PREFIX]" (an s3:// in front is allowed) into the bucket
// and a prefix that is "" or ends in "/".
//
// The prefix is a list of key segments, not a path: S3 resolves nothing, so "a/../b"
// would name keys that really start with "a/../b/", which the mount cannot show (a file
// name cannot be "." or ".." or empty). A prefix with such a segment is refused, with the
// resolved form to write instead. One trailing "/" is allowed.
func parseTarget(arg string) (bucket, prefix string, err error) {
	bucket, prefix, _ = strings.Cut(strings.TrimPrefix(arg, "s3://"), "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", arg)
	}
	if prefix == "" {
		return bucket, "", nil
	}
	trimmed := strings.TrimSuffix(prefix, "/")
	if bad := badPrefixSegment(trimmed); bad != "" {
		suggest := bucket
		if p := resolvePrefix(trimmed); p != "" {
			suggest += "/" + p
		}
		return "", "", fmt.Errorf("%q: the prefix has %s; a prefix is S3 key segments, not a path, "+
			"so \".\", \"..\" and empty segments are not allowed: write it as %q", arg, bad, suggest)
	}
	return bucket, trimmed + "/", nil
}

// badPrefixSegment describes the first ".", ".." or empty segment of p, or "".
func badPrefixSegment(p string) string {
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return "an empty segment (\"//\")"
		case ".", "..":
			return fmt.Sprintf("a %q segment", seg)
		}
	}
	return ""
}

// resolvePrefix resolves p as a path would be: empty and "." segments dropped, ".."
// removing the segment before it (or nothing at the top).
func resolvePrefix(p string) string {
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	return strings.Join(out, "/")
}
