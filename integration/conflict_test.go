package integration

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Another writer replaces or creates an object while the mount has it open: what close
// answers, where each version ends up, and what --overwrite-concurrent changes.

// When another writer replaced the object (or created it) while the mount had it open,
// close fails with EIO, the other writer's object stays, and the mount's version is
// saved beside it, encrypted, as NAME.conflict-<time>.
func TestConflictSavedBeside(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()

	// An existing object replaced while open.
	orig := bytes.Repeat([]byte("original content of doc, written by another tool\n"), 100)
	f.put("doc", orig)
	ours := []byte("OURS: edited through the mount\n")
	want := wpPatched(orig, ours, 0)
	theirs := []byte("theirs: replaced through the SDK meanwhile\n")
	file, err := os.OpenFile(filepath.Join(mp, "doc"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.WriteAt(ours, 0); err != nil {
		t.Fatal(err)
	}
	f.put("doc", theirs)
	err = file.Close()
	t.Logf("close of doc after it was replaced: %v", err)
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("close of doc after another writer replaced it: %v; want EIO", err)
	}
	wpCheckConflict(t, f, mp, "doc", theirs, want)

	// A new file created by someone else before the mount saved it.
	ours = []byte("OURS: new file created through the mount\n")
	theirs = []byte("theirs: created through the SDK first\n")
	file, err = os.Create(filepath.Join(mp, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Write(ours); err != nil {
		t.Fatal(err)
	}
	f.put("new", theirs)
	err = file.Close()
	t.Logf("close of new after another writer created it: %v", err)
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("close of new after another writer created it: %v; want EIO", err)
	}
	wpCheckConflict(t, f, mp, "new", theirs, ours)
}

// A file of several pages, of which the mount changed one and never read the others, is
// replaced by another writer while open. README: the new content is saved beside it as
// NAME.conflict-<time> (only streamed files are documented as an exception), and with
// --overwrite-concurrent the last writer wins. Both need the whole file as the mount had
// it, untouched pages included.
func TestPartlyEditedFileReplacedWhileOpen(t *testing.T) {
	f := newFixture(t)
	orig := randomBytes(3*wpMiB+100, 7)
	f.put("multi", orig)
	f.put("multi2", orig)
	logFile := filepath.Join(f.dir, "log")
	mp := f.mount("--log-file", logFile)
	lastWins := f.mount("--overwrite-concurrent", "--log-file", logFile)
	ours := []byte("OURS: first page only")
	want := wpPatched(orig, ours, 10)

	edit := func(mp, name string) error {
		file, err := os.OpenFile(filepath.Join(mp, name), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := file.WriteAt(ours, 10); err != nil {
			t.Fatal(err)
		}
		f.put(name, []byte("theirs: replaced "+name+" through the SDK\n"))
		return file.Close()
	}

	err := edit(mp, "multi")
	t.Logf("close of multi (3 MiB, one page changed) after it was replaced: %v", err)
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("close of multi after another writer replaced it: %v; want EIO", err)
	}
	wpCheckConflict(t, f, mp, "multi", []byte("theirs: replaced multi through the SDK\n"), want)

	err = edit(lastWins, "multi2")
	t.Logf("close of multi2 with --overwrite-concurrent after it was replaced: %v", err)
	if err != nil {
		t.Errorf("close of multi2 with --overwrite-concurrent after another writer replaced it: %v; want success (last writer wins)", err)
	}
	wpCheckAll(t, f, lastWins, "multi2", want)

	if t.Failed() {
		log, _ := os.ReadFile(logFile)
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "multi") {
				t.Logf("ssecfs log: %.400s", line)
			}
		}
	}
}

// With --overwrite-concurrent the last writer wins: close succeeds, the mount's content
// replaces the other writer's, and there is no conflict copy.
func TestOverwriteConcurrentFlag(t *testing.T) {
	f := newFixture(t)
	mp := f.mount("--overwrite-concurrent")

	orig := bytes.Repeat([]byte("original content of doc, written by another tool\n"), 100)
	f.put("doc", orig)
	ours := []byte("OURS: edited through the mount\n")
	want := wpPatched(orig, ours, 0)
	file, err := os.OpenFile(filepath.Join(mp, "doc"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.WriteAt(ours, 0); err != nil {
		t.Fatal(err)
	}
	f.put("doc", []byte("theirs: replaced through the SDK meanwhile\n"))
	if err := file.Close(); err != nil {
		t.Errorf("close with --overwrite-concurrent after another writer replaced doc: %v; want success", err)
	}
	wpCheckAll(t, f, mp, "doc", want)

	newOurs := []byte("OURS: new file created through the mount\n")
	file, err = os.Create(filepath.Join(mp, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Write(newOurs); err != nil {
		t.Fatal(err)
	}
	f.put("new", []byte("theirs: created through the SDK first\n"))
	if err := file.Close(); err != nil {
		t.Errorf("close with --overwrite-concurrent after another writer created new: %v; want success", err)
	}
	wpCheckAll(t, f, mp, "new", newOurs)

	if keys := append(bucketKeys(t, f, "doc.conflict"), bucketKeys(t, f, "new.conflict")...); len(keys) != 0 {
		t.Errorf("conflict objects with --overwrite-concurrent: %v; want none", keys)
	}
	if names := wpDirNames(t, mp); slices.ContainsFunc(names, func(s string) bool { return strings.Contains(s, ".conflict-") }) {
		t.Errorf("the mount lists conflict files with --overwrite-concurrent: %v", names)
	}
}

// wpCheckConflict checks the aftermath of a conflict on name: the bucket's name keeps
// theirs, one name.conflict-<time> holds ours, encrypted, and the mount shows both.
func wpCheckConflict(t *testing.T, f *fixture, mp, name string, theirs, ours []byte) {
	t.Helper()
	if got, err := f.getObject(name); err != nil || !bytes.Equal(got, theirs) {
		t.Errorf("%s in S3 after the conflict: %q, %v; want the other writer's %q", name, wpShort(got), err, theirs)
	}
	conflicts := bucketKeys(t, f, name+".conflict-")
	if len(conflicts) != 1 {
		t.Errorf("conflict objects of %s: %v; want exactly one", name, conflicts)
		return
	}
	k := conflicts[0]
	if !wpConflictName.MatchString(k) {
		t.Errorf("conflict object %q is not named %s.conflict-<UTC time>", k, name)
	}
	if got, err := f.getObject(k); err != nil || !bytes.Equal(got, ours) {
		t.Errorf("conflict object %s: %q, %v; want the mount's %q", k, wpShort(got), err, wpShort(ours))
	}
	if err := f.getObjectWithoutKey(k); err == nil {
		t.Errorf("conflict object %s is readable without the key", k)
	}
	if head, err := wpHead(f, k); err != nil || aws.ToString(head.SSECustomerAlgorithm) != "AES256" {
		t.Errorf("conflict object %s is not SSE-C encrypted: %v", k, err)
	}

	// Through the mount: the conflict copy is listed and reads as ours; the file reads
	// as theirs once the failed handle is released (the kernel releases after close).
	if names := wpDirNames(t, mp); !slices.Contains(names, k) {
		t.Errorf("the mount does not list %s: %v", k, names)
	}
	if got, err := os.ReadFile(filepath.Join(mp, k)); err != nil || !bytes.Equal(got, ours) {
		t.Errorf("%s through the mount: %q, %v; want %q", k, wpShort(got), err, wpShort(ours))
	}
	var got []byte
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err = os.ReadFile(filepath.Join(mp, name))
		if (err == nil && bytes.Equal(got, theirs)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || !bytes.Equal(got, theirs) {
		t.Errorf("%s through the mount after the conflict: %q, %v; want the other writer's %q", name, wpShort(got), err, theirs)
	}
}
