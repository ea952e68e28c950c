package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func readDirNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir %s: %v", dir, err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = e.IsDir()
	}
	return names
}

// Prefixes are directories, with or without a marker object, at any depth.
func TestNestedDirectories(t *testing.T) {
	f := newFixture(t)
	f.put("a/b/c/deep.txt", []byte("deep\n"))
	f.put("a/top.txt", []byte("top\n"))
	f.put("marked/", nil) // a marker as mkdir writes it, empty directory
	f.put("both/", nil)   // a marker with content below it
	f.put("both/inside", []byte("inside\n"))
	mp := f.mount()

	if got, want := readDirNames(t, mp), map[string]bool{"a": true, "marked": true, "both": true}; !mapsEqual(got, want) {
		t.Errorf("root lists %v, want %v", got, want)
	}
	if got, want := readDirNames(t, filepath.Join(mp, "a")), map[string]bool{"b": true, "top.txt": false}; !mapsEqual(got, want) {
		t.Errorf("a/ lists %v, want %v", got, want)
	}
	if got := readDirNames(t, filepath.Join(mp, "marked")); len(got) != 0 {
		t.Errorf("marked/ lists %v, want nothing (its marker is not a child)", got)
	}
	for path, want := range map[string]string{"a/b/c/deep.txt": "deep\n", "both/inside": "inside\n", "a/top.txt": "top\n"} {
		got, err := os.ReadFile(filepath.Join(mp, path))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", path, got, err, want)
		}
	}
	// A fresh lookup of a deep path, with no listing before it, finds it too.
	mp2 := f.mount()
	if st, err := os.Stat(filepath.Join(mp2, "a/b/c")); err != nil || !st.IsDir() {
		t.Errorf("stat a/b/c on a fresh mount: %v, %v; want a directory", st, err)
	}
	if _, err := os.Stat(filepath.Join(mp2, "a/nothing")); !os.IsNotExist(err) {
		t.Errorf("stat of a missing name: %v, want ENOENT", err)
	}
	out, err := exec.Command("find", mp2, "-type", "f").CombinedOutput()
	if err != nil || strings.Count(string(out), "\n") != 3 {
		t.Errorf("find -type f: %v\n%s\nwant 3 files", err, out)
	}
}

// A directory of more than 1,000 entries needs several list pages; all show up, once.
func TestDirectoryPagination(t *testing.T) {
	f := newFixture(t)
	const n = 1100
	f.putMany("big/", n)
	mp := f.mount()

	entries, err := os.ReadDir(filepath.Join(mp, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("big/ lists %d entries, want %d", len(entries), n)
	}
	for i, e := range entries {
		if want := fmt.Sprintf("f%05d", i); e.Name() != want {
			t.Fatalf("entry %d is %q, want %q", i, e.Name(), want)
		}
	}
	out, err := exec.Command("ls", "-l", filepath.Join(mp, "big")).CombinedOutput()
	if err != nil {
		t.Fatalf("ls -l: %v\n%s", err, out)
	}
	if lines := strings.Count(string(out), "\n"); lines != n+1 {
		t.Errorf("ls -l printed %d lines, want %d (total + one per entry)", lines, n+1)
	}
	got, err := os.ReadFile(filepath.Join(mp, "big/f01099"))
	if err != nil || string(got) != "object 1099\n" {
		t.Errorf("big/f01099: %q, %v", got, err)
	}
}

// Names with spaces, leading dots and non-ASCII work, and an object hidden by a
// prefix of the same name shows as the directory, with a log line. (Keys with empty,
// "." or ".." segments, or over 255 bytes, cannot be stored on the test server, which
// normalises or refuses them; fs's unit tests cover how the mount skips them.)
func TestOddNames(t *testing.T) {
	f := newFixture(t)
	files := map[string]string{
		"with space.txt": "space\n",
		"ünïcødé-名前.txt": "unicode\n",
		".hidden":        "hidden\n",
		"conflict/inner": "inner\n",
		"ok":             "ok\n",
		"sub dir/ü file": "nested\n",
	}
	for k, v := range files {
		f.put(k, []byte(v))
	}
	f.put("conflict", []byte("hidden object\n"))
	logFile := filepath.Join(f.dir, "log")
	mp := f.mount("--log-file", logFile)

	want := map[string]bool{"with space.txt": false, "ünïcødé-名前.txt": false,
		".hidden": false, "conflict": true, "ok": false, "sub dir": true}
	if names := readDirNames(t, mp); !mapsEqual(names, want) {
		t.Errorf("root lists %v, want %v", names, want)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(mp, path))
		if err != nil || string(got) != want {
			t.Errorf("%q: %q, %v; want %q", path, got, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(mp, "conflict")); err != nil || !st.IsDir() {
		t.Errorf("conflict: %v, %v; want the directory", st, err)
	}
	log, _ := os.ReadFile(logFile)
	if !strings.Contains(string(log), "object hidden") || !strings.Contains(string(log), `object=conflict`) {
		t.Errorf("log does not say that object conflict is hidden:\n%s", log)
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
