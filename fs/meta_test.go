package fs

import (
	"syscall"
	"testing"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
)

func u32(v uint32) *uint32 { return &v }

func TestParseMeta(t *testing.T) {
	cases := []struct {
		name     string
		meta     map[string]string
		mode     uint32
		perm     uint32 // permissions(0o600)
		uid, gid *uint32
		mtime    *time.Time
	}{
		{name: "nil map", meta: nil, perm: 0o600},
		{name: "empty", meta: map[string]string{}, perm: 0o600},
		{name: "s3fs file mode", meta: map[string]string{"mode": "33188"}, mode: 0o100644, perm: 0o644},
		{name: "s3fs dir mode", meta: map[string]string{"mode": "16877"}, mode: 0o40755, perm: 0o755},
		{name: "setuid kept", meta: map[string]string{"mode": "35309"}, mode: 0o104755, perm: 0o4755},
		{name: "bare permissions", meta: map[string]string{"mode": "420"}, mode: 0o644, perm: 0o644},
		{name: "type bits only", meta: map[string]string{"mode": "32768"}, mode: syscall.S_IFREG, perm: 0o600},
		{name: "zero mode", meta: map[string]string{"mode": "0"}, perm: 0o600},
		{name: "garbage mode", meta: map[string]string{"mode": "rwxr-xr-x"}, perm: 0o600},
		{name: "octal string is not decimal", meta: map[string]string{"mode": "0o644"}, perm: 0o600},
		{name: "negative mode", meta: map[string]string{"mode": "-1"}, perm: 0o600},
		{name: "mode too large", meta: map[string]string{"mode": "4294967296"}, perm: 0o600},
		{name: "mode with spaces", meta: map[string]string{"mode": " 33188"}, perm: 0o600},
		{
			name: "uid and gid",
			meta: map[string]string{"uid": "1000", "gid": "2000"},
			perm: 0o600, uid: u32(1000), gid: u32(2000),
		},
		{
			name: "uid and gid zero are set",
			meta: map[string]string{"uid": "0", "gid": "0"},
			perm: 0o600, uid: u32(0), gid: u32(0),
		},
		{
			name: "max uid",
			meta: map[string]string{"uid": "4294967295"},
			perm: 0o600, uid: u32(4294967295),
		},
		{name: "bad uid and gid", meta: map[string]string{"uid": "-1", "gid": "root"}, perm: 0o600},
		{name: "uid too large", meta: map[string]string{"uid": "4294967296"}, perm: 0o600},
		{
			name: "mtime seconds", meta: map[string]string{"mtime": "1700000000"}, perm: 0o600,
			mtime: ptrTime(time.Unix(1700000000, 0)),
		},
		{
			name: "mtime with fraction", meta: map[string]string{"mtime": "1700000000.5"}, perm: 0o600,
			mtime: ptrTime(time.Unix(1700000000, 500_000_000)),
		},
		{
			name: "mtime zero", meta: map[string]string{"mtime": "0"}, perm: 0o600,
			mtime: ptrTime(time.Unix(0, 0)),
		},
		{name: "mtime before 1970", meta: map[string]string{"mtime": "-5"}, perm: 0o600, mtime: ptrTime(time.Unix(-5, 0))},
		{name: "mtime with junk", meta: map[string]string{"mtime": "5.5x"}, perm: 0o600},
		{name: "mtime garbage", meta: map[string]string{"mtime": "abc"}, perm: 0o600},
		{name: "mtime NaN", meta: map[string]string{"mtime": "NaN"}, perm: 0o600},
		{name: "mtime Inf", meta: map[string]string{"mtime": "Inf"}, perm: 0o600},
		{name: "mtime huge", meta: map[string]string{"mtime": "1e300"}, perm: 0o600},
		{
			name: "everything",
			meta: map[string]string{"mode": "33261", "uid": "7", "gid": "8", "mtime": "1600000000.25"},
			mode: 0o100755, perm: 0o755, uid: u32(7), gid: u32(8),
			mtime: ptrTime(time.Unix(1600000000, 250_000_000)),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := parseMeta(tc.meta)
			if got := m.typeBits() | m.permissions(0); got != tc.mode&(syscall.S_IFMT|0o7777) {
				t.Errorf("mode = %#o, want %#o", got, tc.mode)
			}
			if got := m.permissions(0o600); got != tc.perm {
				t.Errorf("permissions(0600) = %#o, want %#o", got, tc.perm)
			}
			checkU32(t, "uid", m.uid, tc.uid)
			checkU32(t, "gid", m.gid, tc.gid)
			switch {
			case m.mtime == nil && tc.mtime == nil:
			case m.mtime == nil || tc.mtime == nil:
				t.Errorf("mtime = %v, want %v", m.mtime, tc.mtime)
			case !m.mtime.Equal(*tc.mtime):
				t.Errorf("mtime = %v, want %v", *m.mtime, *tc.mtime)
			}
		})
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func checkU32(t *testing.T, what string, got, want *uint32) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", what, got, want)
	case *got != *want:
		t.Errorf("%s = %d, want %d", what, *got, *want)
	}
}

func TestPermissionsDefault(t *testing.T) {
	var m objectMeta
	for _, def := range []uint32{0o644, 0o600, 0o400, 0} {
		if got := m.permissions(def); got != def {
			t.Errorf("permissions(%#o) without mode = %#o, want the default", def, got)
		}
	}
}

// attrsFromHead takes metadata over the mount's defaults, and the defaults where the
// metadata is absent or malformed.
func TestAttrsFromHead(t *testing.T) {
	f := New(&fakeStore{}, nil, Options{UID: 11, GID: 22, FileMode: 0o640})
	lastMod := time.Unix(1500000000, 0)

	a := f.attrsFromHead(bucket.ObjectInfo{
		Key: "k", Size: 12, ETag: `"e"`, LastModified: lastMod,
		Metadata: map[string]string{"mode": "33261", "uid": "1", "gid": "2", "mtime": "1700000000"},
	}, time.Now())
	if a.perm != 0o755 || a.uid != 1 || a.gid != 2 || !a.mtime.Equal(time.Unix(1700000000, 0)) ||
		a.size != 12 || a.etag != `"e"` || !a.fromHead {
		t.Errorf("with metadata: %+v", a)
	}

	a = f.attrsFromHead(bucket.ObjectInfo{
		Key: "k", Size: 3, ETag: `"e2"`, LastModified: lastMod,
		Metadata: map[string]string{"mode": "bogus", "mtime": "-1x"},
	}, time.Now())
	if a.perm != 0o640 || a.uid != 11 || a.gid != 22 || !a.mtime.Equal(lastMod) || a.size != 3 {
		t.Errorf("without usable metadata: %+v", a)
	}
}
