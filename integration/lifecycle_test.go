package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// With --read-only every change answers EROFS, and the bucket is left exactly as it was.
func TestReadOnlyChangesAnswerEROFS(t *testing.T) {
	f := newFixture(t)
	f.put("file", []byte("original\n"))
	f.put("dir/inside", []byte("inside\n"))
	mp := f.mount("--read-only")
	p := func(s string) string { return filepath.Join(mp, s) }

	for name, op := range map[string]func() error{
		"create":          func() error { return os.WriteFile(p("new"), []byte("x"), 0o644) },
		"overwrite":       func() error { return os.WriteFile(p("file"), []byte("x"), 0o644) },
		"append":          func() error { _, err := os.OpenFile(p("file"), os.O_WRONLY|os.O_APPEND, 0); return err },
		"truncate":        func() error { return os.Truncate(p("file"), 0) },
		"mkdir":           func() error { return os.Mkdir(p("newdir"), 0o755) },
		"unlink":          func() error { return os.Remove(p("file")) },
		"rmdir":           func() error { return syscall.Rmdir(p("dir")) },
		"rename":          func() error { return os.Rename(p("file"), p("moved")) },
		"chmod":           func() error { return os.Chmod(p("file"), 0o600) },
		"utimes":          func() error { return os.Chtimes(p("file"), time.Now(), time.Now()) },
		"symlink":         func() error { return os.Symlink("file", p("link")) },
		"hard link":       func() error { return os.Link(p("file"), p("hard")) },
		"remove a subdir": func() error { return os.RemoveAll(p("dir")) },
	} {
		if err := op(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v; want EROFS", name, err)
		}
	}
	out, err := f.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(f.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != "dir/inside,file" {
		t.Errorf("bucket holds %v after refused changes; want dir/inside and file", keys)
	}
	if got, _ := os.ReadFile(p("file")); string(got) != "original\n" {
		t.Errorf("file reads %q after refused changes", got)
	}
}

// --read-only makes the kernel mount read-only too; a prefix mounts only its keys.
func TestReadOnlyPrefixMount(t *testing.T) {
	f := newFixture(t)
	f.put("top", []byte("top\n"))
	f.put("data/2026/a.csv", []byte("a\n"))
	mp := f.mount("--read-only", "--target", f.bucket+"/data")
	if names := readDirNames(t, mp); !mapsEqual(names, map[string]bool{"2026": true}) {
		t.Errorf("prefix mount lists %v; want only 2026", names)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "2026/a.csv")); err != nil || string(got) != "a\n" {
		t.Errorf("2026/a.csv: %q, %v", got, err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(mp, &st); err != nil || st.Flags&0x1 == 0 { // ST_RDONLY
		t.Errorf("statfs flags %#x, %v; want ST_RDONLY", st.Flags, err)
	}
	if err := os.WriteFile(filepath.Join(mp, "x"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write on a read-only mount: %v; want EROFS", err)
	}
}

// df shows sizes, not zeros, and the mount's name.
func TestStatfs(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mp, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks == 0 || st.Bavail == 0 || st.Bsize == 0 || st.Files == 0 {
		t.Errorf("statfs: blocks %d avail %d bsize %d files %d; want non-zero", st.Blocks, st.Bavail, st.Bsize, st.Files)
	}
	out, err := exec.Command("df", "-h", mp).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ssecfs:"+f.bucket) {
		t.Errorf("df -h: %v\n%s", err, out)
	}
}

// In the foreground, SIGTERM (and SIGINT) unmount cleanly and exit 0.
func TestForegroundEndsOnSignal(t *testing.T) {
	f := newFixture(t)
	f.put("x", []byte("x\n"))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			mp := filepath.Join(f.dir, "fg-"+strings.ReplaceAll(sig.String(), " ", "-"))
			os.Mkdir(mp, 0o755)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, ssecfsBin, append(append([]string{"mount", "--foreground"}, f.mountArgs()...), f.bucket, mp)...)
			cmd.Env = append(cleanEnv(), f.srv.Env()...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer unmount(t, mp)
			waitFor(t, 30*time.Second, func() bool { return isMounted(mp) }, "the foreground mount to go live")
			if got, err := os.ReadFile(filepath.Join(mp, "x")); err != nil || string(got) != "x\n" {
				t.Errorf("x: %q, %v", got, err)
			}
			cmd.Process.Signal(sig)
			if err := cmd.Wait(); err != nil {
				t.Errorf("after %v: %v\n%s", sig, err, stderr.String())
			}
			if isMounted(mp) {
				t.Errorf("still mounted after %v", sig)
			}
			if !strings.Contains(stderr.String(), "unmounted") {
				t.Errorf("foreground log lacks the unmount:\n%s", stderr.String())
			}
		})
	}
}

// umount of a background mount ends its process.
func TestUmountEndsTheBackgroundProcess(t *testing.T) {
	f := newFixture(t)
	mp := f.mount()
	if len(cmdlinesMentioning(mp)) == 0 {
		t.Fatal("no process serves the mount")
	}
	if out, err := exec.Command("umount", mp).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, func() bool { return len(cmdlinesMentioning(mp)) == 0 }, "the ssecfs process to exit after umount")
}

// A user other than root mounts through fusermount3 and unmounts with fusermount3 -u.
func TestNonRootMountWithFusermount(t *testing.T) {
	const nobody = 65534
	allowUsersToOpenDevFuse(t)
	f := newFixture(t)
	f.put("x", []byte("seen by nobody\n"))

	home := t.TempDir()
	for _, p := range []string{home, filepath.Dir(home)} {
		os.Chmod(p, 0o755)
	}
	mp := filepath.Join(home, "mnt")
	os.Mkdir(mp, 0o755)
	key := filepath.Join(home, "key")
	os.WriteFile(key, keysFileOf(f), 0o600)
	ca := filepath.Join(home, "ca.pem")
	caPEM, _ := os.ReadFile(f.srv.CAFile)
	os.WriteFile(ca, caPEM, 0o644)
	for _, p := range []string{home, mp, key, ca} {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ssecfsBin, "mount", "--endpoint", f.srv.Endpoint, "--ca-bundle", ca, "--key-file", key, f.bucket, mp)
	cmd.Env = append(append(cleanEnv(), f.srv.Env()...), "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mount as uid %d: %v\n%s", nobody, err, out)
	}
	defer unmount(t, mp)
	if !isMounted(mp) {
		t.Fatalf("not mounted after a successful non-root mount:\n%s", out)
	}
	read := exec.Command("cat", filepath.Join(mp, "x"))
	read.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if got, err := read.Output(); err != nil || string(got) != "seen by nobody\n" {
		t.Errorf("cat as nobody: %q, %v", got, err)
	}
	st, err := os.Stat(filepath.Join(mp, "x"))
	if err == nil && st.Sys().(*syscall.Stat_t).Uid != nobody {
		t.Errorf("files are owned by uid %d; want the mounting user's %d", st.Sys().(*syscall.Stat_t).Uid, nobody)
	}
	umount := exec.Command("fusermount3", "-u", mp)
	umount.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := umount.CombinedOutput(); err != nil {
		t.Errorf("fusermount3 -u as nobody: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, func() bool { return !isMounted(mp) }, "fusermount3 -u to unmount")
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allowUsersToOpenDevFuse gives /dev/fuse Debian's usual mode 0666 for the test, since
// fusermount3 opens it with the user's own rights and containers often make it 0600.
func allowUsersToOpenDevFuse(t *testing.T) {
	st, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o006 == 0o006 {
		return
	}
	if err := os.Chmod("/dev/fuse", st.Mode().Perm()|0o666); err != nil {
		t.Fatalf("/dev/fuse is mode %v and cannot be opened to other users: %v", st.Mode().Perm(), err)
	}
	t.Cleanup(func() { os.Chmod("/dev/fuse", st.Mode().Perm()) })
}
