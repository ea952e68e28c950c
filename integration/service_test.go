package integration

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Running as a service: /etc/fstab and mount(8), through mount.fuse3 (type fuse.ssecfs)
// and through scripts/mount.ssecfs (type ssecfs); the refusals of a mount point; the
// version; --umask and --allow-root.

// mountCmd runs mount(8) with args and the fixture's credentials in its environment
// (mount(8) passes them on to its helpers; it clears PATH and HOME), bounded in time.
// The mount's race reports go to a file checked when the test ends.
func (f *fixture) mountCmd(args ...string) (string, int) {
	f.t.Helper()
	raceLog := filepath.Join(f.dir, fmt.Sprintf("race-mount8-%d", time.Now().UnixNano()))
	f.t.Cleanup(func() { checkRaceReports(f.t, raceLog) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mount", args...)
	cmd.Env = append(append(cleanEnv(), f.srv.Env()...), "GORACE=log_path="+raceLog)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return string(out), code
}

// serviceOptions are the -o options that point ssecfs at the fixture's server and key.
func (f *fixture) serviceOptions() string {
	return "key_file=" + f.keyFile + ",endpoint=" + f.srv.Endpoint + ",ca_bundle=" + f.srv.CAFile
}

// newMountpoint makes an empty directory to mount on, unmounted when the test ends.
func (f *fixture) newMountpoint(name string) string {
	f.t.Helper()
	mp := filepath.Join(f.dir, name)
	if err := os.Mkdir(mp, 0o755); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { unmount(f.t, mp) })
	return mp
}

// replaceFile puts a file (or, with link, a symbolic link to content) at path for the
// test, and puts back what was there, if anything, when it ends.
func replaceFile(t *testing.T, path, content string, link bool) {
	t.Helper()
	backup := path + ".ssecfs-test-backup"
	had := false
	if _, err := os.Lstat(path); err == nil {
		if err := os.Rename(path, backup); err != nil {
			t.Fatalf("moving %s aside: %v", path, err)
		}
		had = true
	}
	t.Cleanup(func() {
		os.Remove(path)
		if had {
			if err := os.Rename(backup, path); err != nil {
				t.Errorf("putting %s back: %v", path, err)
			}
		}
	})
	var err error
	if link {
		err = os.Symlink(content, path)
	} else {
		err = os.WriteFile(path, []byte(content), 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// installForMountFuse3 puts the binary under test where mount.fuse3 finds it:
// mount(8) clears PATH, so the shell mount.fuse3 runs `ssecfs` with searches only its
// default PATH, of which /usr/local/bin is where make install puts it.
func installForMountFuse3(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("mount.fuse3"); err != nil {
		t.Fatal("mount.fuse3 is missing: install the fuse3 package (apt-get install fuse3)")
	}
	replaceFile(t, "/usr/local/bin/ssecfs", ssecfsBin, true)
}

// installMountHelper puts scripts/mount.ssecfs in /sbin, the only place mount(8) looks
// for helpers, with the path of the binary under test written in, as make install does.
func installMountHelper(t *testing.T) {
	t.Helper()
	script, err := os.ReadFile("../scripts/mount.ssecfs")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^ssecfs=ssecfs$`)
	if !line.Match(script) {
		t.Fatal("scripts/mount.ssecfs has no line ssecfs=ssecfs for make install to rewrite")
	}
	replaceFile(t, "/sbin/mount.ssecfs", string(line.ReplaceAll(script, []byte("ssecfs="+ssecfsBin))), false)
}

// fstype is the filesystem type of the mount on dir, from /proc/self/mountinfo.
func fstype(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	typ := ""
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && fields[4] == dir {
			for i := 5; i+1 < len(fields); i++ {
				if fields[i] == "-" {
					typ = fields[i+1]
				}
			}
		}
	}
	return typ
}

// A line of /etc/fstab of type fuse.ssecfs mounts with mount -T FILE -a (mount(8) runs
// mount.fuse3, which runs ssecfs SOURCE MOUNTPOINT -o OPTIONS), returns once the mount is
// live, reads what the SDK wrote, and umount ends it; mount -t fuse.ssecfs with a
// prefix and ro mounts read-only.
func TestServiceFstabAndMountFuseSsecfs(t *testing.T) {
	installForMountFuse3(t)
	f := newFixture(t)
	data := randomBytes(700<<10, 11)
	f.put("reports/2026/big.bin", data)
	f.put("top.txt", []byte("top\n"))

	mp := f.newMountpoint("fstab-mnt")
	fstab := filepath.Join(f.dir, "fstab")
	line := fmt.Sprintf("%s %s fuse.ssecfs %s,_netdev,nofail,x-systemd.requires=network-online.target 0 0\n", f.bucket, mp, f.serviceOptions())
	if err := os.WriteFile(fstab, []byte("# ssecfs test\n"+line), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := f.mountCmd("-T", fstab, "-a")
	if code != 0 {
		t.Fatalf("mount -T %s -a: exit %d\n%s\n%s", fstab, code, line, out)
	}
	// mount(8) returned: the mount is live already, no waiting.
	if typ := fstype(t, mp); typ != "fuse.ssecfs" {
		t.Fatalf("after mount -a, %s is mounted as %q; want fuse.ssecfs\n%s", mp, typ, out)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "reports/2026/big.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("reports/2026/big.bin through the fstab mount: %d bytes, %v; want the %d written", len(got), err, len(data))
	}
	if err := os.WriteFile(filepath.Join(mp, "written.txt"), []byte("through fstab\n"), 0o644); err != nil {
		t.Errorf("writing through the fstab mount: %v", err)
	} else if got, err := f.getObject("written.txt"); err != nil || string(got) != "through fstab\n" {
		t.Errorf("written.txt in the bucket: %q, %v", got, err)
	}
	if pids := pidsServing(mp); len(pids) != 1 {
		t.Errorf("processes serving %s: %v; want one", mp, pids)
	}
	if out, err := exec.Command("umount", mp).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, func() bool { return len(pidsServing(mp)) == 0 }, "the ssecfs process to end after umount")

	// mount -t fuse.ssecfs BUCKET/PREFIX MOUNTPOINT -o ...,ro
	ro := f.newMountpoint("ro-mnt")
	out, code = f.mountCmd("-t", "fuse.ssecfs", f.bucket+"/reports", ro, "-o", f.serviceOptions()+",ro")
	if code != 0 {
		t.Fatalf("mount -t fuse.ssecfs: exit %d\n%s", code, out)
	}
	if got, err := os.ReadFile(filepath.Join(ro, "2026/big.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("2026/big.bin through the prefix mount: %d bytes, %v", len(got), err)
	}
	if names := readDirNames(t, ro); !mapsEqual(names, map[string]bool{"2026": true}) {
		t.Errorf("the prefix mount lists %v; want only 2026", names)
	}
	if err := os.WriteFile(filepath.Join(ro, "x"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("writing on a mount with -o ro: %v; want EROFS", err)
	}
	unmount(t, ro)

	// An option ssecfs does not know is refused, in one line that names it.
	bad := f.newMountpoint("bad-mnt")
	out, code = f.mountCmd("-t", "fuse.ssecfs", f.bucket, bad, "-o", f.serviceOptions()+",frobnicate")
	if code == 0 || !strings.Contains(out, "unknown option -o frobnicate") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("mount with -o frobnicate: exit %d; want one line refusing it:\n%s", code, out)
	}
	if isMounted(bad) {
		t.Errorf("a refused mount was left behind")
	}
}

// mount -t ssecfs runs scripts/mount.ssecfs from /sbin, which runs ssecfs: from the
// command line, from an fstab line of type ssecfs, and with -f (fake) not at all.
func TestServiceMountSsecfsHelper(t *testing.T) {
	installMountHelper(t)
	f := newFixture(t)
	f.put("hello.txt", []byte("through mount.ssecfs\n"))

	mp := f.newMountpoint("helper-mnt")
	out, code := f.mountCmd("-t", "ssecfs", f.bucket, mp, "-o", f.serviceOptions())
	if code != 0 {
		t.Fatalf("mount -t ssecfs: exit %d\n%s", code, out)
	}
	if typ := fstype(t, mp); typ != "fuse.ssecfs" {
		t.Fatalf("after mount -t ssecfs, %s is mounted as %q", mp, typ)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "hello.txt")); err != nil || string(got) != "through mount.ssecfs\n" {
		t.Errorf("hello.txt: %q, %v", got, err)
	}
	unmount(t, mp)

	fstab := filepath.Join(f.dir, "fstab")
	os.WriteFile(fstab, []byte(fmt.Sprintf("%s %s ssecfs %s,ro,noauto 0 0\n", f.bucket, mp, f.serviceOptions())), 0o644)
	if out, code := f.mountCmd("-T", fstab, mp); code != 0 {
		t.Fatalf("mount -T %s %s: exit %d\n%s", fstab, mp, code, out)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "hello.txt")); err != nil || string(got) != "through mount.ssecfs\n" {
		t.Errorf("hello.txt through the fstab line of type ssecfs: %q, %v", got, err)
	}
	if err := os.Remove(filepath.Join(mp, "hello.txt")); !errors.Is(err, syscall.EROFS) {
		t.Errorf("removing a file on a mount with ro: %v; want EROFS", err)
	}
	unmount(t, mp)

	if out, code := f.mountCmd("-f", "-t", "ssecfs", f.bucket, mp, "-o", f.serviceOptions()); code != 0 || isMounted(mp) {
		t.Errorf("mount -f: exit %d, mounted %v; want 0 and nothing mounted\n%s", code, isMounted(mp), out)
	}
}

// A mount point that is already mounted, whatever the filesystem, is refused with the
// reason and exit status 1, and the mount on it keeps working.
func TestServiceRefusesMountedMountpoint(t *testing.T) {
	installForMountFuse3(t)
	f := newFixture(t)
	f.put("x", []byte("first\n"))
	mp := f.mount()

	out, code := f.ssecfs(nil, append(append([]string{"mount"}, f.mountArgs()...), f.bucket, mp)...)
	if code != 1 || !strings.Contains(out, "is already mounted (fuse.ssecfs ssecfs:"+f.bucket+"/)") || !strings.Contains(out, "unmount it first") {
		t.Errorf("ssecfs mount on a live mount: exit %d; want 1 and the reason:\n%s", code, out)
	}
	out, code = f.mountCmd("-t", "fuse.ssecfs", f.bucket, mp, "-o", f.serviceOptions())
	if code == 0 || !strings.Contains(out, "is already mounted") {
		t.Errorf("mount -t fuse.ssecfs on a live mount: exit %d; want a refusal:\n%s", code, out)
	}
	if n := mountsAt(t, mp); n != 1 {
		t.Errorf("%d mounts on %s, want the first one only", n, mp)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "x")); err != nil || string(got) != "first\n" {
		t.Errorf("the first mount after the refusals: %q, %v", got, err)
	}

	// Not only FUSE: a tmpfs too, even with --allow-non-empty.
	tmp := f.newMountpoint("tmpfs")
	if err := syscall.Mount("ssecfs-test", tmp, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	out, code = f.ssecfs(nil, append(append([]string{"mount", "--allow-non-empty"}, f.mountArgs()...), f.bucket, tmp)...)
	if code != 1 || !strings.Contains(out, "is already mounted (tmpfs ssecfs-test)") {
		t.Errorf("ssecfs mount on a tmpfs: exit %d; want 1 and the reason:\n%s", code, out)
	}
	if typ := fstype(t, tmp); typ != "tmpfs" || mountsAt(t, tmp) != 1 {
		t.Errorf("%s is %q with %d mounts; want the tmpfs alone", tmp, typ, mountsAt(t, tmp))
	}
}

// A directory that holds anything is refused unless --allow-non-empty (-o nonempty);
// with it, the mount hides the files, which are back after the unmount.
func TestServiceRefusesNonEmptyMountpoint(t *testing.T) {
	f := newFixture(t)
	f.put("in-bucket", []byte("from the bucket\n"))
	mp := f.newMountpoint("full")
	if err := os.WriteFile(filepath.Join(mp, ".local-file"), []byte("local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := f.ssecfs(nil, append(append([]string{"mount"}, f.mountArgs()...), f.bucket, mp)...)
	if code != 1 || !strings.Contains(out, "is not empty (it holds .local-file)") || !strings.Contains(out, "--allow-non-empty") {
		t.Errorf("mount on a non-empty directory: exit %d; want 1 and the reason:\n%s", code, out)
	}
	if isMounted(mp) {
		t.Fatalf("mounted on a non-empty directory")
	}

	for _, args := range [][]string{
		append(append([]string{"mount", "--allow-non-empty"}, f.mountArgs()...), f.bucket, mp),
		{f.bucket, mp, "-o", f.serviceOptions() + ",nonempty"}, // as mount.fuse3 runs it
	} {
		out, code = f.ssecfs(nil, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, code, out)
		}
		if names := readDirNames(t, mp); !mapsEqual(names, map[string]bool{"in-bucket": false}) {
			t.Errorf("%q: the mount lists %v; want the bucket's in-bucket only", args, names)
		}
		unmount(t, mp)
		if got, err := os.ReadFile(filepath.Join(mp, ".local-file")); err != nil || string(got) != "local\n" {
			t.Errorf("after the unmount, the local file: %q, %v", got, err)
		}
	}
}

// ssecfs --version and ssecfs version say the version, the commit the binary was built
// from (or "unknown" when it was built without VCS information) and the Go version.
func TestServiceVersion(t *testing.T) {
	info, err := buildinfo.ReadFile(ssecfsBin)
	if err != nil {
		t.Fatal(err)
	}
	commit := "unknown"
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			commit = s.Value
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(ssecfsBin, args...).Output()
		if err != nil {
			t.Fatalf("ssecfs %s: %v", args[0], err)
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ssecfs version ") ||
			!strings.HasPrefix(lines[1], "commit: "+commit) || !strings.HasPrefix(lines[2], "go: "+info.GoVersion+" ") {
			t.Errorf("ssecfs %s:\n%s\nwant a version, the commit %s and %s", args[0], out, commit, info.GoVersion)
		}
	}
}

// --umask takes bits away from the default modes of files and directories; objects
// that carry x-amz-meta-mode keep theirs.
func TestServiceUmask(t *testing.T) {
	f := newFixture(t)
	f.put("plain", []byte("no metadata\n"))
	f.put("dir/inside", []byte("inside\n"))
	f.putWith("with-mode", []byte("mode 0755\n"), &f.key, map[string]string{"mode": "33261"}) // 0100755
	for _, tc := range []struct {
		flags              []string
		file, dir, mounted os.FileMode
	}{
		{[]string{"--umask", "027"}, 0o640, 0o750, 0o750},
		{[]string{"--umask", "0077", "--file-mode", "0666", "--dir-mode", "0777"}, 0o600, 0o700, 0o700},
	} {
		mp := f.mount(tc.flags...)
		for name, want := range map[string]os.FileMode{"plain": tc.file, "dir": tc.dir, "with-mode": 0o755, ".": tc.mounted} {
			st, err := os.Stat(filepath.Join(mp, name))
			if err != nil || st.Mode().Perm() != want {
				t.Errorf("%v: %s is %v, %v; want %v", tc.flags, name, st.Mode().Perm(), err, want)
			}
		}
		// A file made here takes the creator's mode, not the umask of the mount.
		if err := os.WriteFile(filepath.Join(mp, "new"), nil, 0o666); err == nil {
			if st, err := os.Stat(filepath.Join(mp, "new")); err != nil || st.Mode().Perm() != 0o666&^currentUmask() {
				t.Errorf("%v: a new file is %v, %v", tc.flags, st.Mode().Perm(), err)
			}
			os.Remove(filepath.Join(mp, "new"))
		}
		unmount(t, mp)
	}
}

// currentUmask is this process's umask.
func currentUmask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

// --allow-root, mounted by a user: root may use the mount, other users may not
// (EACCES), and the kernel was told allow_other, which ssecfs narrows.
func TestServiceAllowRoot(t *testing.T) {
	const nobody = 65534
	allowUsersToOpenDevFuse(t)
	conf, err := os.ReadFile("/etc/fuse.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^user_allow_other\s*$`).Match(conf) {
		// A user's allow_root, like allow_other, needs user_allow_other.
		replaceFile(t, "/etc/fuse.conf", string(conf)+"\nuser_allow_other\n", false)
		os.Chmod("/etc/fuse.conf", 0o644)
	}
	f := newFixture(t)
	f.put("x", []byte("for root and nobody only\n"))
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
	cmd := exec.CommandContext(ctx, ssecfsBin, "mount", "--allow-root", "--endpoint", f.srv.Endpoint, "--ca-bundle", ca, "--key-file", key, f.bucket, mp)
	cmd.Env = append(append(cleanEnv(), f.srv.Env()...), "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mount --allow-root as uid %d: %v\n%s", nobody, err, out)
	}
	defer unmount(t, mp)
	if got, err := os.ReadFile(filepath.Join(mp, "x")); err != nil || string(got) != "for root and nobody only\n" {
		t.Errorf("root reads %q, %v; want the file", got, err)
	}
	for uid, want := range map[uint32]string{nobody: "for root and nobody only\n", 1234: ""} {
		read := exec.Command("cat", filepath.Join(mp, "x"))
		read.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		got, err := read.CombinedOutput()
		if want != "" && (err != nil || string(got) != want) {
			t.Errorf("cat as uid %d: %q, %v; want the file", uid, got, err)
		}
		if want == "" && (err == nil || !strings.Contains(string(got), "Permission denied")) {
			t.Errorf("cat as uid %d: %q, %v; want Permission denied", uid, got, err)
		}
	}
}
