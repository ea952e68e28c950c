package fs

import (
	"math"
	"strconv"
	"syscall"
	"time"
)

// objectMeta are the attributes s3fs and rclone keep in user metadata.
type objectMeta struct {
	mode     uint32 // full st_mode as s3fs writes it; 0 when absent
	uid, gid *uint32
	mtime    *time.Time
}

// parseMeta reads x-amz-meta-mode (decimal st_mode with type bits), -uid, -gid and -mtime
// (decimal seconds with an optional fraction). Malformed values are ignored: another
// tool's odd metadata must not make an object unreadable.
func parseMeta(m map[string]string) objectMeta {
	var out objectMeta
	if v, err := strconv.ParseUint(m["mode"], 10, 32); err == nil {
		out.mode = uint32(v)
	}
	if v, err := strconv.ParseUint(m["uid"], 10, 32); err == nil {
		u := uint32(v)
		out.uid = &u
	}
	if v, err := strconv.ParseUint(m["gid"], 10, 32); err == nil {
		g := uint32(v)
		out.gid = &g
	}
	if v, err := strconv.ParseFloat(m["mtime"], 64); err == nil && v >= 0 && v < math.MaxInt64/1e9 {
		sec, frac := math.Modf(v)
		t := time.Unix(int64(sec), int64(frac*1e9))
		out.mtime = &t
	}
	return out
}

// permissions are the permission bits of mode, or def when the object carries none.
func (m objectMeta) permissions(def uint32) uint32 {
	if m.mode&^syscall.S_IFMT == 0 {
		return def
	}
	return m.mode & 0o7777
}
