package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// sampleValues are a value other than the default for every mount flag that takes one.
var sampleValues = map[string]string{
	"key-file": "/etc/ssecfs/key", "key-env": "SSECFS_KEYS", "key-command": "pass show s3/key",
	"endpoint": "https://s3.example:9000", "region": "eu-west-1", "profile": "backup", "ca-bundle": "/etc/ssl/ca.pem",
	"uid": "1234", "gid": "5678", "file-mode": "0600", "dir-mode": "0700", "umask": "027",
	"cache-size": "64MiB", "part-size": "16MiB", "upload-concurrency": "9", "write-buffer": "1GiB", "prefetch-files": "4",
	"stat-ttl": "5m0s", "log-level": "debug", "log-file": "/var/log/ssecfs.log", "log-format": "json",
	"metrics-addr": "127.0.0.1:9101", "audit-log": "/var/log/ssecfs-audit.log", "pprof-addr": "127.0.0.1:6060",
	"http-version": "1.1",
}

// configOf parses a mount command line, failing the test on an error.
func configOf(t *testing.T, args ...string) *mountConfig {
	t.Helper()
	c, _, err := parseMountArgs(args)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return c
}

// comparable is c without what only says how it was given.
func comparable(c *mountConfig) mountConfig {
	out := *c
	out.options = nil
	return out
}

// Every mount flag has an -o spelling, its name with _ for -, bare for a boolean, that
// sets it as the flag does, in the mount subcommand and in the form mount.fuse3 runs.
func TestEveryFlagHasAnOption(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	(&mountConfig{}).register(fs)
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "options" {
			return
		}
		n++
		flagArgs := []string{"--" + f.Name}
		opt := strings.ReplaceAll(f.Name, "-", "_")
		if f.Value.Type() != "bool" {
			v, ok := sampleValues[f.Name]
			if !ok {
				t.Errorf("no sample value for --%s: add one to sampleValues", f.Name)
				return
			}
			flagArgs = append(flagArgs, v)
			opt += "=" + v
		}
		byFlag := configOf(t, append(flagArgs, "bkt/pre", "/mnt")...)
		byOption := configOf(t, "-o", opt, "bkt/pre", "/mnt")
		if !reflect.DeepEqual(comparable(byFlag), comparable(byOption)) {
			t.Errorf("-o %s gives %+v\n--%s gives %+v", opt, comparable(byOption), f.Name, comparable(byFlag))
		}
		if reflect.DeepEqual(comparable(byOption), comparable(configOf(t, "bkt/pre", "/mnt"))) {
			t.Errorf("-o %s changed nothing", opt)
		}
		// As mount.fuse3 runs it: ssecfs SOURCE MOUNTPOINT -o OPTIONS.
		if code, _, stderr := runForTest(t, "bkt/pre", "/mnt", "-o", opt+",bogus_option"); code != 2 ||
			!strings.Contains(stderr, "unknown option -o bogus_option") {
			t.Errorf("ssecfs bkt/pre /mnt -o %s,bogus_option: exit %d, %q; want the bogus option refused after %s was taken", opt, code, stderr, opt)
		}
	})
	if n < 25 {
		t.Errorf("only %d mount flags", n)
	}
}

// The options mount(8), mount.fuse3 and systemd pass are taken: ro and nonempty set
// their flags, nodev, nosuid and noexec go to the kernel, the others change nothing.
func TestGenericMountOptions(t *testing.T) {
	plain := comparable(configOf(t, "b", "/m"))
	for _, g := range genericOptions {
		for _, name := range g.names {
			opt := strings.NewReplacer("x-*", "x-systemd.requires=network-online.target", "...", "written by ops").Replace(name)
			c := configOf(t, "-o", opt, "b", "/m")
			got := comparable(c)
			want := plain
			switch name {
			case "ro":
				want.readOnly = true
			case "nonempty":
				want.allowNonEmpty = true
			case "nodev", "nosuid", "noexec":
				want.kernelOptions = []string{name}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("-o %s: %+v\nwant %+v", opt, got, want)
			}
		}
	}
	// What mount(8) and mount.fuse3 really pass for an fstab line, all at once.
	c := configOf(t, "-o", "rw,nodev,nosuid,noexec,key_file=/etc/ssecfs/key,_netdev,nofail,x-systemd.automount,dev,suid", "b", "/m")
	if c.readOnly || c.keys.File != "/etc/ssecfs/key" || !slices.Equal(c.kernelOptions, []string{"nodev", "nosuid", "noexec"}) {
		t.Errorf("an fstab line's options: %+v", c)
	}
	if c := configOf(t, "-o", "ro,key_file=k", "-o", "nonempty", "b", "/m"); !c.readOnly || !c.allowNonEmpty || c.keys.File != "k" {
		t.Errorf("two -o: %+v", c)
	}
}

func TestMountOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "frobnicate"}, "unknown option -o frobnicate"},
		{[]string{"-o", "key_file=k,frob=1"}, "unknown option -o frob"},
		{[]string{"-o", "options=x"}, "unknown option -o options"},
		{[]string{"-o", "help"}, "unknown option -o help"},
		{[]string{"-o", "key_file"}, "-o key_file needs a value: key_file=FILE"},
		{[]string{"-o", "cache_size=lots"}, `-o cache_size=lots: "lots" is not a size`},
		{[]string{"-o", "file_mode=rw"}, "-o file_mode=rw: \"rw\" is not an octal permission mode"},
		{[]string{"-o", "read_only=maybe"}, "-o read_only=maybe:"},
		{[]string{"-o", "rw=1"}, "-o rw=1: rw takes no value"},
		{[]string{"-o", "allow_other,allow_root"}, "--allow-other and --allow-root exclude each other"},
		{[]string{"--allow-other", "--allow-root"}, "--allow-other and --allow-root exclude each other"},
		{[]string{"--umask", "0777"}, "--umask 0777 leaves --file-mode 0644 no permission at all"},
		{[]string{"--umask", "0700", "--file-mode", "0660", "--dir-mode", "0700"}, "--umask 0700 leaves --dir-mode 0700 no permission"},
	} {
		_, _, err := parseMountArgs(append(tc.args, "b", "/m"))
		var usage *usageError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &usage) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v; want one line saying %q", tc.args, err, tc.want)
		}
	}
}

// -o options are applied after the flags; within -o, the last one wins.
func TestMountOptionsComeAfterFlags(t *testing.T) {
	if c := configOf(t, "--read-only=false", "-o", "ro", "b", "/m"); !c.readOnly {
		t.Errorf("--read-only=false -o ro: read-only %v", c.readOnly)
	}
	if c := configOf(t, "-o", "ro,read_only=false", "b", "/m"); c.readOnly {
		t.Errorf("-o ro,read_only=false: read-only %v", c.readOnly)
	}
	if c := configOf(t, "-o", "uid=7", "--uid", "8", "b", "/m"); c.uid != 7 {
		t.Errorf("-o uid=7 --uid 8: uid %d", c.uid)
	}
}

// --umask takes bits from the default modes of files and directories, not more.
func TestUmask(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		file, dir uint32
	}{
		{nil, 0o644, 0o755},
		{[]string{"--umask", "027"}, 0o640, 0o750},
		{[]string{"--umask", "0077"}, 0o600, 0o700},
		{[]string{"-o", "umask=002", "--file-mode", "0666", "--dir-mode", "0777"}, 0o664, 0o775},
		{[]string{"--umask", "0022", "--file-mode", "0600"}, 0o600, 0o755},
	} {
		c := configOf(t, append(tc.args, "b", "/m")...)
		if file, dir := c.defaultModes(); file != tc.file || dir != tc.dir {
			t.Errorf("%q: files %04o, directories %04o; want %04o, %04o", tc.args, file, dir, tc.file, tc.dir)
		}
	}
}

// The background process is given every setting as a flag: it parses back to the
// same configuration, runs in the foreground, and needs no -o of its own.
func TestChildArgsGiveTheSameConfig(t *testing.T) {
	for _, args := range [][]string{
		{"b", "/m"},
		{"--key-file", "/k", "--umask", "027", "--allow-root", "--cache-size", "64MiB", "--stat-ttl", "0", "s3://b/p/q", "rel/mnt"},
		{"-o", "ro,key_command=pass show x,uid=1000,nodev,noexec,nonempty,_netdev,log_level=debug", "b", "/m"},
		{"--", "b", "-mnt"},
	} {
		c, fs, err := parseMountArgs(args)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		child := c.childArgs(fs)
		if child[0] != "mount" || child[1] != "--foreground" {
			t.Fatalf("child args %q", child)
		}
		again, _, err := parseMountArgs(child[1:])
		if err != nil {
			t.Fatalf("%q: the child's %q: %v", args, child, err)
		}
		if !again.foreground {
			t.Errorf("child of %q is not in the foreground", args)
		}
		again.foreground = false
		if !reflect.DeepEqual(comparable(c), comparable(again)) {
			t.Errorf("%q\nchild %q\nparses as %+v\nwant      %+v", args, child, comparable(again), comparable(c))
		}
	}
}

// runForTest runs the command line and returns the exit status and what it printed.
func runForTest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// A wrong flag or argument is one line on stderr that names it and points to --help,
// with exit status 2 and nothing on stdout.
func TestBadCommandLineIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mount", "--foo", "b", "/m"}, "ssecfs mount: unknown flag --foo (see ssecfs mount --help)"},
		{[]string{"mount", "b", "/m", "--foo=1"}, "ssecfs mount: unknown flag --foo (see ssecfs mount --help)"},
		{[]string{"mount", "-x", "b", "/m"}, "ssecfs mount: unknown flag -x (see ssecfs mount --help)"},
		{[]string{"mount", "--key-file"}, "ssecfs mount: --key-file needs a value (see ssecfs mount --help)"},
		{[]string{"mount", "--cache-size", "lots", "b", "/m"}, `ssecfs mount: --cache-size lots: "lots" is not a size`},
		{[]string{"mount", "--upload-concurrency", "x", "b", "/m"}, "ssecfs mount: --upload-concurrency x:"},
		{[]string{"mount", "b"}, "ssecfs mount: want BUCKET[/PREFIX] and MOUNTPOINT, got 1 argument(s) (see ssecfs mount --help)"},
		{[]string{"check", "--foo", "b"}, "ssecfs check: unknown flag --foo (see ssecfs check --help)"},
		{[]string{"check", "-sample", "-1", "b"}, "ssecfs check: --sample -1: want 0 or more"},
		{[]string{"rotate", "--bar", "b"}, "ssecfs rotate: unknown flag --bar (see ssecfs rotate --help)"},
		{[]string{"keygen", "--baz"}, "ssecfs keygen: unknown flag --baz (see ssecfs keygen --help)"},
		{[]string{"keygen", "extra"}, `ssecfs keygen: unexpected argument "extra"`},
		{[]string{"--foo"}, "ssecfs: unknown flag --foo (see ssecfs --help)"},
		{[]string{"frobnicate"}, `ssecfs: unknown command "frobnicate" (see ssecfs --help)`},
		{[]string{"mout"}, `ssecfs: unknown command "mout"; did you mean mount?`},
		{[]string{"b", "/m", "-o", "bogus"}, "ssecfs: unknown option -o bogus (see ssecfs mount --help)"},
		{[]string{"b", "/m", "-o", "key_file=k", "x"}, "ssecfs: want a command, or BUCKET[/PREFIX] and MOUNTPOINT to mount, got 3 argument(s)"},
	} {
		code, stdout, stderr := runForTest(t, tc.args...)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and the one line %q", tc.args, code, stdout, stderr, tc.want)
		}
		for _, field := range strings.Fields(stderr) {
			if strings.HasPrefix(field, "-") && !strings.HasPrefix(field, "--") && len(strings.Trim(field, "-():,")) > 1 &&
				!slices.Contains([]string{"-o", "-1"}, strings.TrimRight(field, ":,")) {
				t.Errorf("%q: %q spells a flag with one dash", tc.args, field)
			}
		}
	}
}

// Help goes to stdout with exit 0: ssecfs help mount is ssecfs mount --help.
func TestHelp(t *testing.T) {
	code, help, stderr := runForTest(t, "help", "mount")
	if code != 0 || stderr != "" || !strings.HasPrefix(help, "Usage: ssecfs mount [flags] BUCKET[/PREFIX] MOUNTPOINT") {
		t.Fatalf("help mount: exit %d, %q, stderr %q", code, help, stderr)
	}
	for _, args := range [][]string{{"mount", "--help"}, {"mount", "-h"}, {"mount", "-help"}} {
		if code, out, _ := runForTest(t, args...); code != 0 || out != help {
			t.Errorf("%q: exit %d, not the same help as ssecfs help mount", args, code)
		}
	}
	for _, heading := range []string{"Keys (", "Where the bucket is:", "How it looks:", "Writing (", "Running:", "As mount(8) and /etc/fstab give them:"} {
		if !strings.Contains(help, "\n"+heading) {
			t.Errorf("mount --help lacks the heading %q", heading)
		}
	}
	code, root, _ := runForTest(t, "help")
	if code != 0 || !strings.Contains(root, "ssecfs mount [flags] BUCKET[/PREFIX] MOUNTPOINT") || !strings.Contains(root, "-o key_file=FILE") {
		t.Errorf("help: exit %d\n%s", code, root)
	}
	if code, out, _ := runForTest(t, "--help"); code != 0 || out != root {
		t.Errorf("--help: exit %d, not the text of ssecfs help", code)
	}
	// Without anything, the same text goes to stderr, with exit 2.
	if code, out, errOut := runForTest(t); code != 2 || out != "" || errOut != root {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// The one-dash spellings of long flags that ssecfs took before are still taken.
func TestOneDashLongFlags(t *testing.T) {
	root := newRootCmd()
	got := dashDashLongFlags(root, []string{"mount", "-key-file", "k", "-read-only", "-stat-ttl=1m", "-o", "ro", "-x", "b", "--", "-foreground"})
	want := []string{"mount", "--key-file", "k", "--read-only", "--stat-ttl=1m", "-o", "ro", "-x", "b", "--", "-foreground"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runForTest(t, "--version")
	code2, out2, _ := runForTest(t, "version")
	if code != 0 || code2 != 0 || out != out2 || !strings.HasPrefix(out, "ssecfs version ") || !strings.Contains(out, "go: go1.") {
		t.Errorf("--version: %d %q; version: %d %q", code, out, code2, out2)
	}
}

func TestCompletionAndManPage(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if code, out, stderr := runForTest(t, "completion", shell); code != 0 || !strings.Contains(out, "ssecfs") || len(out) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes, %s", shell, code, len(out), stderr)
		}
	}
	code, page, stderr := runForTest(t, "man")
	if code != 0 || !strings.Contains(page, `.TH "SSECFS" "1"`) || !strings.Contains(page, "fuse.ssecfs") {
		t.Errorf("man: exit %d, %s\n%s", code, stderr, page)
	}
	dir := t.TempDir()
	if code, _, stderr := runForTest(t, "man", dir); code != 0 {
		t.Fatalf("man %s: exit %d, %s", dir, code, stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "ssecfs-mount.1"))
	if err != nil {
		t.Fatal(err)
	}
	mount := string(data)
	for _, want := range []string{"allow-non-empty", "umask", "MOUNT OPTIONS", "nonempty", "x-systemd", "FSTAB"} {
		if !strings.Contains(mount, want) {
			t.Errorf("ssecfs-mount.1 does not mention %q", want)
		}
	}
}

func TestVersionOf(t *testing.T) {
	info := func(main string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8"}
		bi.Main.Version = main
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	for _, tc := range []struct {
		ld   string
		info *debug.BuildInfo
		want []string
	}{
		{"v1.2.0-3-gabc-dirty", info("(devel)", "vcs.revision", "abc123", "vcs.modified", "true"),
			[]string{"ssecfs version v1.2.0-3-gabc-dirty\n", "commit: abc123 (with uncommitted changes)\n", "go: go1.26.8 "}},
		{"", info("v1.3.0", "vcs.revision", "def456", "vcs.modified", "false"),
			[]string{"ssecfs version v1.3.0\n", "commit: def456\n"}},
		{"", info("(devel)"), []string{"ssecfs version unknown\n", "commit: unknown\n"}},
		{"", nil, []string{"ssecfs version unknown\n", "commit: unknown\n", "go: go1."}},
	} {
		got := versionOf(tc.ld, tc.info).String()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("versionOf(%q, %+v) = %q; want %q in it", tc.ld, tc.info, got, w)
			}
		}
	}
}
