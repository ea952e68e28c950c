package integration

import (
	"strings"
	"testing"
)

// checkArgs are the flags that point `ssecfs check` at the fixture's server.
func (f *fixture) checkArgs(keyFile string) []string {
	return []string{"check", "--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile, "--key-file", keyFile}
}

func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}

// noKeyMaterial fails if any key's base64 appears in out.
func noKeyMaterial(t *testing.T, out string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if k != "" && strings.Contains(out, k) {
			t.Errorf("output shows key material:\n%s", out)
		}
	}
}

func TestCheckGoodBucket(t *testing.T) {
	f := newFixture(t)
	f.put("a", []byte("a\n"))
	f.put("dir/b", []byte("b\n"))
	f.put("dir/c", []byte("c\n"))
	f.put("dir/", nil) // a directory marker: not sampled

	out, code := f.ssecfs(nil, append(f.checkArgs(f.keyFile), f.bucket)...)
	t.Logf("output:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, want := range []string{"probe write", "3 of 3 open with the current key " + f.key.Fingerprint(), "can be used"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.Contains(out, "ok       probe write") {
		t.Errorf("probe write not ok")
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("output reports a failure")
	}
	keys := bucketKeys(t, f, "")
	for _, k := range keys {
		if strings.Contains(k, ".ssecfs-check-") {
			t.Errorf("probe object %q left behind", k)
		}
	}
	if len(keys) != 4 {
		t.Errorf("bucket holds %v, want the 4 objects written", keys)
	}
	noKeyMaterial(t, out, f.key.Base64())
}

func TestCheckPrefix(t *testing.T) {
	f := newFixture(t)
	f.put("in/a", []byte("a\n"))
	other := newKey(t)
	f.putWith("out/b", []byte("b\n"), &other, nil) // outside the prefix: not sampled

	out, code := f.ssecfs(nil, append(f.checkArgs(f.keyFile), f.bucket+"/in")...)
	t.Logf("output:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(out, "1 of 1 open with the current key") || !strings.Contains(out, `"in/.ssecfs-check-`) {
		t.Errorf("want the prefix's one object sampled and the probe under the prefix")
	}
	if keys := bucketKeys(t, f, ""); len(keys) != 2 {
		t.Errorf("bucket holds %v, want the 2 objects written", keys)
	}
}

func TestCheckWrongKey(t *testing.T) {
	f := newFixture(t)
	other := newKey(t)
	for _, n := range []string{"x1", "x2", "sub/x3"} {
		f.putWith(n, []byte(n), &other, nil)
	}
	out, code := f.ssecfs(nil, append(f.checkArgs(f.keyFile), f.bucket)...)
	t.Logf("output:\n%s", out)
	if code == 0 {
		t.Fatalf("exit 0 with a key that opens nothing")
	}
	for _, want := range []string{"x1", "x2", "sub/x3", "3 of 3 open with none of the keys"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	last := lastLine(out)
	if !strings.Contains(last, "cannot be used") || !strings.Contains(last, "none of the keys") {
		t.Errorf("last line %q does not give the reason", last)
	}
	noKeyMaterial(t, out, f.key.Base64(), other.Base64())
}

func TestCheckPlainHTTP(t *testing.T) {
	f := newFixture(t)
	f.put("a", []byte("a\n"))
	out, code := f.ssecfs(nil, "check", "--endpoint", f.srv.HTTPEndpoint, "--key-file", f.keyFile, f.bucket)
	t.Logf("output:\n%s", out)
	if code == 0 {
		t.Fatalf("exit 0 over plain HTTP")
	}
	if !strings.Contains(lastLine(out), "plain HTTP") {
		t.Errorf("last line %q does not say plain HTTP", lastLine(out))
	}
	noKeyMaterial(t, out, f.key.Base64())
}

func TestCheckKeyring(t *testing.T) {
	f := newFixture(t)
	old := f.key
	f.put("old1", []byte("1"))
	f.put("old2", []byte("2"))
	cur := newKey(t)
	f.putWith("new1", []byte("3"), &cur, nil)
	f.putWith("plain", []byte("4"), nil, nil)
	ring := f.writeKeyFile("ring", cur, old)

	out, code := f.ssecfs(nil, append(f.checkArgs(ring), f.bucket)...)
	t.Logf("output:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, want := range []string{
		"1 of 4 open with the current key " + cur.Fingerprint(),
		"2 of 4 open with the older key " + old.Fingerprint(),
		"1 of 4 are not SSE-C encrypted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	noKeyMaterial(t, out, cur.Base64(), old.Base64())
}

func TestCheckReadOnly(t *testing.T) {
	f := newFixture(t)
	f.put("a", []byte("a\n"))
	out, code := f.ssecfs(nil, append(f.checkArgs(f.keyFile), "--read-only", "--sample", "5", f.bucket)...)
	t.Logf("output:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(out, "skipped") || strings.Contains(out, ".ssecfs-check-") {
		t.Errorf("--read-only should skip the probe write")
	}
	if !strings.Contains(out, "1 of 1 open with the current key") {
		t.Errorf("sample not reported")
	}
	noKeyMaterial(t, out, f.key.Base64())
}

func TestCheckSampleLimitAndEmpty(t *testing.T) {
	f := newFixture(t)
	out, code := f.ssecfs(nil, append(f.checkArgs(f.keyFile), f.bucket)...)
	t.Logf("empty bucket:\n%s", out)
	if code != 0 || !strings.Contains(out, "no objects") {
		t.Errorf("empty bucket: exit %d, want 0 and a note that there is nothing to sample", code)
	}
	f.putMany("m/", 12)
	out, code = f.ssecfs(nil, append(f.checkArgs(f.keyFile), "--sample", "5", f.bucket)...)
	t.Logf("sample 5:\n%s", out)
	if code != 0 || !strings.Contains(out, "5 of 5 open with the current key") {
		t.Errorf("--sample 5: exit %d, want 0 and 5 objects sampled", code)
	}
}
