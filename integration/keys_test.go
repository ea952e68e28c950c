package integration

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An object under a key the mount does not have is refused with EACCES, never read as
// garbage; it still lists, with its size, since listings need no key.
func TestWrongKeyIsEACCES(t *testing.T) {
	f := newFixture(t)
	f.put("mine", []byte("mine\n"))
	f.putWith("theirs", []byte("theirs\n"), ptr(newKey(t)), nil)

	// A lookup with no listing before it (a keyed HEAD) is refused at once.
	fresh := f.mount()
	if _, err := os.Stat(filepath.Join(fresh, "theirs")); !errors.Is(err, syscall.EACCES) {
		t.Errorf("stat of an object under another key, unlisted: %v; want EACCES", err)
	}

	mp := f.mount()
	if got, err := os.ReadFile(filepath.Join(mp, "mine")); err != nil || string(got) != "mine\n" {
		t.Errorf("mine: %q, %v", got, err)
	}
	entries, err := os.ReadDir(mp)
	if err != nil || len(entries) != 2 {
		t.Fatalf("ReadDir: %v, %v; want mine and theirs", entries, err)
	}
	info, err := os.Stat(filepath.Join(mp, "theirs"))
	if err != nil || info.Size() != int64(len("theirs\n")) {
		t.Errorf("stat theirs after listing: %v, %v; want its size from the listing", info, err)
	}
	got, err := os.ReadFile(filepath.Join(mp, "theirs"))
	if !errors.Is(err, syscall.EACCES) || len(got) != 0 {
		t.Errorf("reading an object under another key: %q, %v; want EACCES and no bytes", got, err)
	}
}

// A keyring opens objects under each of its keys, from a file, the environment or a
// command.
func TestKeyringSources(t *testing.T) {
	f := newFixture(t)
	old := newKey(t)
	f.put("new", []byte("under the current key\n"))
	f.putWith("old", []byte("under the old key\n"), &old, nil)
	both := f.writeKeyFile("both", f.key, old)

	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"file", nil, []string{"--key-file", both}},
		{"env", []string{"SSECFS_TEST_KEYS=" + f.key.Base64() + ":" + old.Base64()}, []string{"--key-env", "SSECFS_TEST_KEYS"}},
		{"command", nil, []string{"--key-command", "cat " + both}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp := filepath.Join(f.dir, "mnt-"+tc.name)
			os.Mkdir(mp, 0o755)
			args := append([]string{"mount", "--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile}, tc.args...)
			out, code := f.ssecfs(tc.env, append(args, f.bucket, mp)...)
			if code != 0 {
				t.Fatalf("mount exited %d:\n%s", code, out)
			}
			defer unmount(t, mp)
			for name, want := range map[string]string{"new": "under the current key\n", "old": "under the old key\n"} {
				if got, err := os.ReadFile(filepath.Join(mp, name)); err != nil || string(got) != want {
					t.Errorf("%s: %q, %v", name, got, err)
				}
			}
		})
	}
}

// An object that is not SSE-C encrypted is read without a key, with one warning.
func TestPlainObjectsAreReadWithOneWarning(t *testing.T) {
	f := newFixture(t)
	f.putWith("plain1", []byte("plain one\n"), nil, nil)
	f.putWith("plain2", []byte("plain two\n"), nil, nil)
	f.put("keyed", []byte("keyed\n"))
	logFile := filepath.Join(f.dir, "log")
	mp := f.mount("--log-file", logFile)
	for name, want := range map[string]string{"plain1": "plain one\n", "plain2": "plain two\n", "keyed": "keyed\n"} {
		if got, err := os.ReadFile(filepath.Join(mp, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	// The test server serves SSE-C requests for plain objects (AWS answers 400, which
	// is what makes ssecfs drop the key); so here there may be no warning, but the
	// bytes must be right and there must never be more than one.
	log, _ := os.ReadFile(logFile)
	if n := strings.Count(string(log), "not SSE-C encrypted"); n > 1 {
		t.Errorf("%d warnings about plain objects; want at most one:\n%s", n, log)
	}
}

// Attributes kept by s3fs and rclone in user metadata show through stat.
func TestMetadataAttributes(t *testing.T) {
	f := newFixture(t)
	f.putWith("meta", []byte("with attributes\n"), &f.key, map[string]string{
		"mode":  "33184", // S_IFREG | 0640, as s3fs writes it
		"uid":   "1234",
		"gid":   "5678",
		"mtime": "1700000000.5",
	})
	mp := f.mount()
	st, err := os.Stat(filepath.Join(mp, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o640 || sys.Uid != 1234 || sys.Gid != 5678 {
		t.Errorf("mode %v uid %d gid %d; want 0640, 1234, 5678", st.Mode(), sys.Uid, sys.Gid)
	}
	if want := time.Unix(1700000000, 5e8); !st.ModTime().Equal(want) {
		t.Errorf("mtime %v, want %v", st.ModTime(), want)
	}
}

// Keys appear nowhere but in requests: not in the process's arguments, not in its log
// at debug level, not in error output, only as fingerprints.
func TestKeysNeverLeak(t *testing.T) {
	f := newFixture(t)
	other := newKey(t)
	f.put("ok", []byte("ok\n"))
	f.putWith("other", []byte("other\n"), &other, nil)
	logFile := filepath.Join(f.dir, "log")
	mp := f.mount("--log-level", "debug", "--log-file", logFile)
	os.ReadFile(filepath.Join(mp, "ok"))
	os.ReadFile(filepath.Join(mp, "other"))
	os.ReadFile(filepath.Join(mp, "missing"))

	raw, err := base64.StdEncoding.DecodeString(f.key.Base64())
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"base64":     f.key.Base64(),
		"hex":        hex.EncodeToString(raw),
		"raw":        string(raw),
		"url base64": strings.NewReplacer("+", "-", "/", "_").Replace(f.key.Base64()),
	}
	log, err := os.ReadFile(logFile)
	if err != nil || len(log) == 0 {
		t.Fatalf("no log written: %v", err)
	}
	if !strings.Contains(string(log), f.key.Fingerprint()) {
		t.Errorf("the log never names the key by its fingerprint:\n%s", log)
	}
	argv := cmdlinesMentioning(mp)
	if len(argv) == 0 {
		t.Fatal("found no ssecfs process serving the mount")
	}
	for what, s := range secrets {
		if strings.Contains(string(log), s) {
			t.Errorf("the log holds the key (%s)", what)
		}
		for _, a := range argv {
			if strings.Contains(a, s) {
				t.Errorf("a process argument holds the key (%s)", what)
			}
		}
	}
	// Refusals print the reason, never the key.
	bad := filepath.Join(f.dir, "bad")
	os.WriteFile(bad, []byte(f.key.Base64()+"\n"+f.key.Base64()[:20]+"\n"), 0o600)
	empty := filepath.Join(f.dir, "empty") // a mount point that holds files is refused before the keys are read
	os.Mkdir(empty, 0o755)
	out, code := f.ssecfs(nil, "mount", "--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile, "--key-file", bad, f.bucket, empty)
	if code == 0 || !strings.Contains(out, "line 2") {
		t.Errorf("a malformed second key: exit %d, %s; want a refusal naming line 2", code, out)
	}
	if strings.Contains(out, f.key.Base64()[:20]) {
		t.Errorf("the refusal shows key material: %s", out)
	}
}

// cmdlinesMentioning returns the command lines of processes whose arguments mention s.
func cmdlinesMentioning(s string) []string {
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s) {
			found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}
