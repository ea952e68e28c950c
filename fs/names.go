package fs

import (
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
)

// maxNameLen is the longest file name Linux accepts (NAME_MAX).
const maxNameLen = 255

// maxKeyLen is the longest object key S3 accepts, in bytes.
const maxKeyLen = 1024

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
	case strings.ContainsRune(name, '/'):
		return `name contains "/"`
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

// newNameErrno says whether name may be created under the key prefix: ENAMETOOLONG for a
// name over NAME_MAX or a key over S3's 1,024 bytes, EILSEQ for a name that is not UTF-8
// (S3 keys are), EINVAL for names no file can have; 0 if it may. suffix is what the key
// adds after the name ("/" for a directory marker).
func newNameErrno(prefix, name, suffix string) syscall.Errno {
	switch {
	case len(name) > maxNameLen || len(prefix)+len(name)+len(suffix) > maxKeyLen:
		return syscall.ENAMETOOLONG
	case badName(name) != "":
		return syscall.EINVAL
	case !utf8.ValidString(name):
		return syscall.EILSEQ
	}
	return 0
}

// lookupErrno answers the lookup of a name that newNameErrno refuses: no such object can
// exist, but a name too long is still ENAMETOOLONG, as on any filesystem.
func lookupErrno(prefix, name string) syscall.Errno {
	if e := newNameErrno(prefix, name, ""); e == syscall.ENAMETOOLONG {
		return e
	}
	return syscall.ENOENT
}

// checkNewName is newNameErrno, with a log line that says what was wrong with the name.
func (f *FS) checkNewName(prefix, name, suffix string) syscall.Errno {
	errno := newNameErrno(prefix, name, suffix)
	switch errno {
	case syscall.EILSEQ:
		f.log.Warn("refusing a name that is not valid UTF-8: S3 object keys are UTF-8", "name", strconv.Quote(name))
	case syscall.ENAMETOOLONG:
		f.log.Info("refusing a name longer than 255 bytes, or whose object key would pass S3's 1,024 bytes",
			"name_bytes", len(name), "key_bytes", len(prefix)+len(name)+len(suffix))
	}
	return errno
}
