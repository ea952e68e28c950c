package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ssecfs keygen writes one base64 key of 32 bytes to a new 0600 file, prints its
// fingerprint (and never the key) on stderr, refuses to overwrite, and the key mounts.
func TestKeygen(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.dir, "new.key")
	cmd := exec.Command(ssecfsBin, "keygen", "-o", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, stderr.String())
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	content, _ := os.ReadFile(path)
	line := strings.TrimSuffix(string(content), "\n")
	raw, err := base64.StdEncoding.DecodeString(line)
	if err != nil || len(raw) != 32 || strings.Count(string(content), "\n") != 1 {
		t.Fatalf("key file holds %q: want one line of base64 of 32 bytes", content)
	}
	sum := md5.Sum(raw)
	fp := base64.StdEncoding.EncodeToString(sum[:])
	if !strings.Contains(stderr.String(), fp) || !strings.Contains(stderr.String(), "lost") {
		t.Errorf("stderr lacks the fingerprint %s or the warning:\n%s", fp, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), line) {
		t.Errorf("keygen -o printed the key")
	}

	again := exec.Command(ssecfsBin, "keygen", "-o", path)
	out, err := again.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already exists") {
		t.Errorf("keygen over an existing file: %v\n%s; want a refusal", err, out)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, content) {
		t.Errorf("keygen changed an existing key file")
	}

	toStdout, err := exec.Command(ssecfsBin, "keygen").Output()
	if raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(toStdout))); err != nil || derr != nil || len(raw) != 32 {
		t.Errorf("keygen to stdout: %q, %v", toStdout, err)
	}

	// The new key works: a mount with it writes and reads back an SSE-C object.
	f.keyFile = path
	mp := f.mount()
	if err := os.WriteFile(filepath.Join(mp, "x"), []byte("with the new key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "x")); err != nil || string(got) != "with the new key\n" {
		t.Errorf("read back: %q, %v", got, err)
	}
}
