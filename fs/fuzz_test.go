package fs

import (
	"math"
	"strings"
	"testing"
	"time"
)

// maxMtimeSec is the largest whole second parseMtime accepts (its nanoseconds must fit
// an int64).
const maxMtimeSec = math.MaxInt64 / 1_000_000_000

// FuzzParseMtime: parseMtime never panics; what it accepts is a time in 0..maxMtimeSec
// seconds, which formatMtime writes so that parseMtime reads back the same instant, and
// formatMtime's text is a fixed point (written as read).
func FuzzParseMtime(f *testing.F) {
	for _, s := range []string{
		"0", "1", "1700000000", "1700000000.5", "1600000000.25", "1.000000001", "1.123456789",
		"1.1234567891", "1.", ".5", "", " 17 ", "+5", "-5", "-0", "abc", "NaN", "Inf", "1e300",
		"9223372036", "9223372036.854775807", "9223372037", "99999999999999999999", "1.-5",
		"1.+5", "1.5.5", "0x10", "1_000", "007.0700", "1.00000000000000000000001",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := parseMtime(s)
		if !ok {
			if !tm.IsZero() {
				t.Errorf("parseMtime(%q) refused it but returned %v", s, tm)
			}
			return
		}
		if sec := tm.Unix(); sec < -maxMtimeSec-1 || sec > maxMtimeSec {
			t.Fatalf("parseMtime(%q) = %d s, outside -%d..%d", s, sec, int64(maxMtimeSec)+1, int64(maxMtimeSec))
		}
		out := formatMtime(tm)
		back, ok := parseMtime(out)
		if !ok || !back.Equal(tm) {
			t.Fatalf("parseMtime(%q) = %v; formatMtime gives %q, which parses as %v, %v", s, tm, out, back, ok)
		}
		if again := formatMtime(back); again != out {
			t.Fatalf("formatMtime is not a fixed point: %q then %q", out, again)
		}
	})
}

// FuzzMetaRoundTrip: encodeMeta's metadata parses back to the same mode, uid, gid and,
// for the times parseMtime accepts (1970 to 2262), the same mtime to the nanosecond.
func FuzzMetaRoundTrip(f *testing.F) {
	f.Add(uint32(0o100644), uint32(0), uint32(0), int64(0), uint32(0))
	f.Add(uint32(0o40755), uint32(1000), uint32(1000), int64(1700000000), uint32(500_000_000))
	f.Add(uint32(0o120777), uint32(math.MaxUint32), uint32(math.MaxUint32), int64(maxMtimeSec), uint32(999_999_999))
	f.Add(uint32(0), uint32(65534), uint32(65534), int64(1), uint32(1))
	f.Add(uint32(math.MaxUint32), uint32(1), uint32(2), int64(1600000000), uint32(250_000_000))
	f.Fuzz(func(t *testing.T, mode, uid, gid uint32, sec int64, ns uint32) {
		if sec < 0 || sec > maxMtimeSec {
			sec = int64(uint64(sec) % uint64(maxMtimeSec+1))
		}
		mtime := time.Unix(sec, int64(ns%1_000_000_000))
		m := parseMeta(encodeMeta(mode, uid, gid, mtime))
		if m.mode == nil || *m.mode != mode {
			t.Errorf("mode %#o came back as %v", mode, m.mode)
		}
		if m.uid == nil || *m.uid != uid || m.gid == nil || *m.gid != gid {
			t.Errorf("uid %d, gid %d came back as %v, %v", uid, gid, m.uid, m.gid)
		}
		if m.mtime == nil || !m.mtime.Equal(mtime) {
			t.Errorf("mtime %v (%q) came back as %v", mtime, formatMtime(mtime), m.mtime)
		}
	})
}

// FuzzParseMeta: parseMeta never panics on any metadata another tool may have written,
// and whatever it reads, it reads as the numbers written.
func FuzzParseMeta(f *testing.F) {
	f.Add("33188", "1000", "1000", "1700000000.5")
	f.Add("", "", "", "")
	f.Add("rwxr-xr-x", "-1", "root", "abc")
	f.Add("4294967296", "4294967296", "0", "-5")
	f.Add(" 33188", "0x10", "1e3", "1.5.5")
	f.Fuzz(func(t *testing.T, mode, uid, gid, mtime string) {
		m := parseMeta(map[string]string{"mode": mode, "uid": uid, "gid": gid, "mtime": mtime})
		if m.mode != nil && *m.mode != 0 && encodeMeta(*m.mode, 0, 0, time.Time{})["mode"] != strings.TrimLeft(mode, "+0") {
			t.Errorf("mode %q read as %d", mode, *m.mode)
		}
		if m.uid != nil && encodeMeta(0, *m.uid, 0, time.Time{})["uid"] != fzCanonicalUint(uid) {
			t.Errorf("uid %q read as %d", uid, *m.uid)
		}
		if m.gid != nil && encodeMeta(0, 0, *m.gid, time.Time{})["gid"] != fzCanonicalUint(gid) {
			t.Errorf("gid %q read as %d", gid, *m.gid)
		}
		if p := m.permissions(0o600); p&^0o7777 != 0 {
			t.Errorf("permissions of mode %q = %#o, beyond 07777", mode, p)
		}
		if t2, ok := parseMtime(mtime); ok != (m.mtime != nil) || ok && !t2.Equal(*m.mtime) {
			t.Errorf("mtime %q: parseMeta and parseMtime disagree", mtime)
		}
	})
}

// fzCanonicalUint is s without a leading "+" and leading zeros, as strconv writes it.
func fzCanonicalUint(s string) string {
	s = strings.TrimLeft(strings.TrimPrefix(s, "+"), "0")
	if s == "" {
		return "0"
	}
	return s
}

// FuzzBadName: badName never panics, and a name it accepts is one a file can have:
// not empty, "." or "..", at most 255 bytes, no NUL.
func FuzzBadName(f *testing.F) {
	for _, s := range []string{
		"", ".", "..", "...", ".hidden", "..x", "a", "with space", "ünïcödé", strings.Repeat("x", 255),
		strings.Repeat("x", 256), strings.Repeat("é", 128), "nul\x00byte", "\x00", "\xff\xfe", "a/b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		why := badName(name)
		if why != "" {
			return
		}
		if name == "" || name == "." || name == ".." || len(name) > maxNameLen || strings.ContainsRune(name, 0) {
			t.Errorf("badName accepted %q", name)
		}
	})
}

// FuzzChildName: childName never panics, and gives back the name under the prefix, with
// one trailing "/" marking a directory.
func FuzzChildName(f *testing.F) {
	for _, c := range [][2]string{
		{"", "file"}, {"", "dir/"}, {"a/", "b/"}, {"a/", "c"}, {"a/b/", "c.txt"}, {"a/", "/"},
		{"", "./"}, {"", "../"}, {"a/", "x y"}, {"a/", "."}, {"a/", ""}, {"a/", "b//"}, {"", "a/b"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, prefix, rest string) {
		name, dir := childName(prefix, prefix+rest)
		want, wantDir := strings.CutSuffix(rest, "/")
		if name != want || dir != wantDir {
			t.Errorf("childName(%q, %q) = %q, %v; want %q, %v", prefix, prefix+rest, name, dir, want, wantDir)
		}
	})
}

// What fuzzing found in meta.go and names.go (issue 8): a sign lost, junk accepted,
// times before 1970 written a second early and then refused, and "/" in a name.
func TestFuzzFoundMetaAndNameBugs(t *testing.T) {
	for _, s := range []string{"1.123456789junk", "1.000000000x", "--1", "1.-5", "+1", "", "-", "."} {
		if tm, ok := parseMtime(s); ok {
			t.Errorf("parseMtime(%q) accepted it as %v", s, tm)
		}
	}
	for s, want := range map[string]time.Time{
		"-0.5":         time.Unix(0, -500_000_000),
		"-1.5":         time.Unix(-2, 500_000_000),
		"-3":           time.Unix(-3, 0),
		"1.1234567891": time.Unix(1, 123456789),
	} {
		if tm, ok := parseMtime(s); !ok || !tm.Equal(want) {
			t.Errorf("parseMtime(%q) = %v, %v; want %v", s, tm, ok, want)
		}
	}
	before := time.Unix(0, -500_000_000)
	if got := formatMtime(before); got != "-0.5" {
		t.Errorf("formatMtime(-0.5 s) = %q", got)
	}
	for _, tm := range []time.Time{before, time.Unix(-2, 1), time.Unix(-1, 0), time.Unix(1700000000, 5)} {
		if m := parseMeta(encodeMeta(0, 0, 0, tm)); m.mtime == nil || !m.mtime.Equal(tm) {
			t.Errorf("mtime %v came back as %v", tm, m.mtime)
		}
	}
	if why := badName("b/c"); why == "" {
		t.Error(`badName("b/c") accepted a name with "/"`)
	}
}
