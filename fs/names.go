package fs

import "strings"

// maxNameLen is the longest file name Linux accepts (NAME_MAX).
const maxNameLen = 255

// badName says why an S3 key segment cannot be a file name, or "" if it can. S3 keys may
// hold empty segments ("a//b"), "." and "..", or segments longer than NAME_MAX; such
// objects are skipped, never allowed to break the mount.
func badName(name string) string {
	switch {
	case name == "":
		return "empty path segment"
	case name == "." || name == "..":
		return "path segment is . or .."
	case len(name) > maxNameLen:
		return "name longer than 255 bytes"
	case strings.ContainsRune(name, 0):
		return "name contains a NUL byte"
	}
	return ""
}

// childName turns a listed key under prefix into the child's name and whether it is a
// directory. "a/b/" under "a/" is the directory "b"; "a/c" is the file "c".
func childName(prefix, key string) (name string, dir bool) {
	rest := strings.TrimPrefix(key, prefix)
	if strings.HasSuffix(rest, "/") {
		return strings.TrimSuffix(rest, "/"), true
	}
	return rest, false
}
