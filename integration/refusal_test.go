package integration

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Everything that can be checked before mounting is, and each failure exits non-zero
// with a one-line reason that says what to do, leaves no mount behind, and never shows
// a key.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	f.put("x", []byte("x\n"))

	closed := closedPort(t)
	badKey := filepath.Join(f.dir, "bad-key")
	os.WriteFile(badKey, []byte("# keys\n\n"+f.key.Base64()+"\nbm90IGEga2V5\n"), 0o600)
	openKey := filepath.Join(f.dir, "open-key")
	os.WriteFile(openKey, keysFileOf(f), 0o644)
	os.Chmod(openKey, 0o644)
	emptyKey := filepath.Join(f.dir, "empty-key")
	os.WriteFile(emptyKey, []byte("# nothing here\n"), 0o600)

	for _, tc := range []struct {
		name string
		env  []string
		args []string // before BUCKET and MOUNTPOINT
		bkt  string
		want []string // all must appear in the output
	}{
		{"http endpoint", nil, []string{"--endpoint", f.srv.HTTPEndpoint, "--key-file", f.keyFile}, "",
			[]string{"plain HTTP", "--insecure-http"}},
		{"http endpoint from the environment", []string{"AWS_ENDPOINT_URL=" + f.srv.HTTPEndpoint}, []string{"--key-file", f.keyFile}, "",
			[]string{"plain HTTP", "AWS_ENDPOINT_URL"}},
		{"missing bucket", nil, append(f.mountArgs()[:4], "--key-file", f.keyFile), "no-such-bucket-here",
			[]string{`bucket "no-such-bucket-here" does not exist`}},
		{"bad credentials", []string{"AWS_SECRET_ACCESS_KEY=wrong-secret"}, f.mountArgs(), "",
			[]string{"rejected the credentials"}},
		{"no credentials", []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}, f.mountArgs(), "",
			[]string{"no AWS credentials found"}},
		{"unreachable endpoint", nil, []string{"--endpoint", "https://" + closed, "--key-file", f.keyFile}, "",
			[]string{"cannot reach", closed}},
		{"untrusted certificate", []string{"AWS_CA_BUNDLE="}, []string{"--endpoint", f.srv.Endpoint, "--key-file", f.keyFile}, "",
			[]string{"not trusted", "--ca-bundle"}},
		{"malformed key", nil, []string{"--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile, "--key-file", badKey}, "",
			[]string{badKey, "line 4"}},
		{"key file readable by others", nil, []string{"--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile, "--key-file", openKey}, "",
			[]string{"chmod 600", openKey}},
		{"key file without keys", nil, []string{"--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile, "--key-file", emptyKey}, "",
			[]string{"no keys"}},
		{"missing key file", nil, []string{"--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile, "--key-file", "/nonexistent/key"}, "",
			[]string{"/nonexistent/key"}},
		{"no key source", nil, []string{"--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile}, "",
			[]string{"exactly one of --key-file, --key-env, --key-command"}},
		{"two key sources", nil, append(f.mountArgs(), "--key-env", "X"), "",
			[]string{"exactly one of"}},
		{"failing key command", nil, []string{"--endpoint", f.srv.Endpoint, "--ca-bundle", f.srv.CAFile, "--key-command", "exit 3"}, "",
			[]string{"exit status 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp := filepath.Join(f.dir, "mnt-"+strings.ReplaceAll(tc.name, " ", "-"))
			os.Mkdir(mp, 0o755)
			bkt := tc.bkt
			if bkt == "" {
				bkt = f.bucket
			}
			out, code := f.ssecfs(tc.env, append(append([]string{"mount"}, tc.args...), bkt, mp)...)
			if code == 0 {
				unmount(t, mp)
				t.Fatalf("mount succeeded; want a refusal. Output:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if isMounted(mp) {
				unmount(t, mp)
				t.Errorf("a refused mount was left behind")
			}
			if strings.Contains(out, f.key.Base64()) {
				t.Errorf("the refusal shows the key")
			}
			if n := strings.Count(strings.TrimSpace(out), "\n"); n > 2 {
				t.Errorf("the reason takes %d lines; want one:\n%s", n+1, out)
			}
		})
	}

	// Bad mountpoints and command lines.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing mountpoint", append(append([]string{"mount"}, f.mountArgs()...), f.bucket, "/nonexistent/mnt"), "does not exist"},
		{"mountpoint is a file", append(append([]string{"mount"}, f.mountArgs()...), f.bucket, f.keyFile), "not a directory"},
		{"one argument", append(append([]string{"mount"}, f.mountArgs()...), f.bucket), "want BUCKET[/PREFIX] and MOUNTPOINT"},
		{"bad mode", append(append([]string{"mount", "--file-mode", "rw"}, f.mountArgs()...), f.bucket, f.dir), "octal"},
		{"bad size", append(append([]string{"mount", "--cache-size", "lots"}, f.mountArgs()...), f.bucket, f.dir), "not a size"},
		{"bad log level", append(append([]string{"mount", "--log-level", "loud"}, f.mountArgs()...), f.bucket, f.dir), "--log-level"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := f.ssecfs(nil, tc.args...)
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output lacks %q:\n%s", code, tc.want, out)
			}
		})
	}
}

// --insecure-http allows a plain-HTTP endpoint, and says what it costs.
func TestInsecureHTTPWarns(t *testing.T) {
	f := newFixture(t)
	f.put("x", []byte("over http\n"))
	mp := filepath.Join(f.dir, "mnt")
	os.Mkdir(mp, 0o755)
	out, code := f.ssecfs(nil, "mount", "--insecure-http", "--endpoint", f.srv.HTTPEndpoint, "--key-file", f.keyFile, f.bucket, mp)
	if code != 0 {
		t.Fatalf("mount exited %d:\n%s", code, out)
	}
	defer unmount(t, mp)
	if !strings.Contains(out, "compromised") {
		t.Errorf("no warning that the key crosses the network in clear:\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(mp, "x")); err != nil || string(got) != "over http\n" {
		t.Errorf("x: %q, %v", got, err)
	}
}

// A machine whose AWS_CA_BUNDLE names the system bundle still reaches a server signed
// by the CA given with --ca-bundle: the two are added together.
func TestCABundleAddsToTheEnvironmentsBundle(t *testing.T) {
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err != nil {
		t.Fatal("needs the system CA bundle /etc/ssl/certs/ca-certificates.crt (package ca-certificates)")
	}
	f := newFixture(t)
	f.put("x", []byte("x\n"))
	mp := filepath.Join(f.dir, "mnt")
	os.Mkdir(mp, 0o755)
	out, code := f.ssecfs([]string{"AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"}, append(append([]string{"mount"}, f.mountArgs()...), f.bucket, mp)...)
	if code != 0 {
		t.Fatalf("mount exited %d:\n%s", code, out)
	}
	defer unmount(t, mp)
	if got, err := os.ReadFile(filepath.Join(mp, "x")); err != nil || string(got) != "x\n" {
		t.Errorf("x: %q, %v", got, err)
	}
}

func keysFileOf(f *fixture) []byte {
	b, _ := os.ReadFile(f.keyFile)
	return b
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
