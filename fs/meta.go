package fs

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// objectMeta are the attributes s3fs and rclone keep in user metadata.
type objectMeta struct {
	mode                *uint32 // full st_mode as s3fs writes it
	uid, gid            *uint32
	mtime, atime, ctime *time.Time
	xattrs              map[string][]byte // nil when absent
}

// parseMeta reads x-amz-meta-mode (decimal st_mode with type bits), -uid, -gid, -mtime,
// -atime and -ctime (decimal seconds with an optional fraction) and -xattr (s3fs's
// extended attributes, see parseXattrs). Malformed values are ignored: another tool's
// odd metadata must not make an object unreadable.
func parseMeta(m map[string]string) objectMeta {
	var out objectMeta
	if v, err := strconv.ParseUint(m["mode"], 10, 32); err == nil {
		mode := uint32(v)
		out.mode = &mode
	}
	if v, err := strconv.ParseUint(m["uid"], 10, 32); err == nil {
		u := uint32(v)
		out.uid = &u
	}
	if v, err := strconv.ParseUint(m["gid"], 10, 32); err == nil {
		g := uint32(v)
		out.gid = &g
	}
	for name, dst := range map[string]**time.Time{"mtime": &out.mtime, "atime": &out.atime, "ctime": &out.ctime} {
		if t, ok := parseMtime(m[name]); ok {
			*dst = &t
		}
	}
	if v, ok := m["xattr"]; ok {
		out.xattrs = parseXattrs(v)
	}
	return out
}

// typeBits is the file type of the mode, or 0 when there is none.
func (m objectMeta) typeBits() uint32 {
	if m.mode == nil {
		return 0
	}
	return *m.mode & syscall.S_IFMT
}

// permissions are the permission bits of mode, or def when the object carries none.
func (m objectMeta) permissions(def uint32) uint32 {
	if m.mode == nil || *m.mode&^syscall.S_IFMT == 0 {
		return def
	}
	return *m.mode & 0o7777
}

// encodeMeta writes attributes as s3fs (mode, uid, gid) and rclone (mtime with a
// fraction) write them, so each tool reads what the others wrote.
func encodeMeta(mode, uid, gid uint32, mtime time.Time) map[string]string {
	return map[string]string{
		"mode":  strconv.FormatUint(uint64(mode), 10),
		"uid":   strconv.FormatUint(uint64(uid), 10),
		"gid":   strconv.FormatUint(uint64(gid), 10),
		"mtime": formatMtime(mtime),
	}
}

// formatMtime writes decimal seconds with the nanoseconds as an exact fraction; a time
// before 1970 is written with its sign in front ("-0.5" is half a second before).
func formatMtime(t time.Time) string {
	sec, ns := t.Unix(), int64(t.Nanosecond())
	sign := ""
	if sec < 0 {
		sign = "-"
		if sec, ns = -sec, -ns; ns < 0 {
			sec, ns = sec-1, ns+1_000_000_000
		}
	}
	if ns == 0 {
		return sign + strconv.FormatInt(sec, 10)
	}
	return sign + strings.TrimRight(fmt.Sprintf("%d.%09d", sec, ns), "0")
}

// parseMtime reads decimal seconds with an optional sign and fraction exactly, to the
// nanosecond: tools such as rsync compare mtimes that finely. Anything else is refused.
func parseMtime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if whole == "" || !allDigits(whole) || !allDigits(frac) {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > math.MaxInt64/1_000_000_000 {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		v, _ := strconv.ParseInt(frac, 10, 64)
		ns = v
		for i := len(frac); i < 9; i++ {
			ns *= 10
		}
	}
	if neg {
		sec, ns = -sec, -ns
	}
	return time.Unix(sec, ns), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
