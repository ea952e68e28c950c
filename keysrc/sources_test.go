package keysrc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKeyFile writes data to a new file with exactly this mode (umask
// notwithstanding) and returns its path.
func writeKeyFile(t *testing.T, data string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantErrContains(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestFromFileMode(t *testing.T) {
	content := string(formatKeyFile(mustKey(t, 1), mustKey(t, 2)))
	tests := []struct {
		mode    os.FileMode
		wantErr bool
	}{
		{0o600, false},
		{0o400, false},
		{0o700, false},
		{0o644, true},
		{0o640, true},
		{0o604, true},
		{0o660, true},
		{0o601, true},
		{0o610, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			path := writeKeyFile(t, content, tt.mode)
			r, err := FromFile(path)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("FromFile: %v", err)
				}
				if r.Len() != 2 || r.Current().Fingerprint() != mustKey(t, 1).Fingerprint() {
					t.Errorf("got %v", r)
				}
				return
			}
			wantErrContains(t, err, path, "run: chmod 600 "+path, "group or others")
		})
	}
	t.Run("mode shown", func(t *testing.T) {
		path := writeKeyFile(t, content, 0o644)
		_, err := FromFile(path)
		wantErrContains(t, err, "0644", "-rw-r--r--")
	})
}

func TestFromFileErrors(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(dir, "nope")
		_, err := FromFile(path)
		wantErrContains(t, err, path, "no such file")
		if !os.IsNotExist(unwrapAll(err)) {
			t.Errorf("error %v does not wrap the os error", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := FromFile(sub)
		wantErrContains(t, err, sub, "directory")
	})
	t.Run("bad content names file and line", func(t *testing.T) {
		path := writeKeyFile(t, "# c\n"+b64(1)+"\nbad!\n", 0o600)
		_, err := FromFile(path)
		wantErrContains(t, err, "key file "+path+", line 3", "not valid base64")
	})
	t.Run("empty file", func(t *testing.T) {
		path := writeKeyFile(t, "", 0o600)
		_, err := FromFile(path)
		wantErrContains(t, err, "key file "+path+" contains no keys")
	})
	t.Run("too big", func(t *testing.T) {
		path := writeKeyFile(t, strings.Repeat("# padding\n", maxKeyData/10+1), 0o600)
		_, err := FromFile(path)
		wantErrContains(t, err, path, "more than")
	})
	t.Run("raw binary key file", func(t *testing.T) {
		path := writeKeyFile(t, string(rawKey(200)), 0o600)
		r, err := FromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if r.Current().Fingerprint() != mustKey(t, 200).Fingerprint() {
			t.Errorf("wrong key %v", r.Current())
		}
	})
}

// unwrapAll follows the %w chain to its end.
func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestFromEnv(t *testing.T) {
	const name = "SSECFS_TEST_KEY"
	tests := []struct {
		name  string
		value string
		want  []byte // seeds of the expected keys, in order
	}{
		{"one", b64(1), []byte{1}},
		{"colon separated", b64(1) + ":" + b64(2) + ":" + b64(3), []byte{1, 2, 3}},
		{"newline separated", b64(3) + "\n" + b64(1) + "\n", []byte{3, 1}},
		{"mixed separators and spaces", " " + b64(1) + " :\n" + b64(2) + "::", []byte{1, 2}},
		{"duplicates dropped", b64(1) + ":" + b64(2) + ":" + b64(1), []byte{1, 2}},
		{"raw 32 bytes with colon", "0123456789:abcdefghijklmnopqrstu", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(name, tt.value)
			r, err := FromEnv(name)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil { // raw key: the value itself, colon included
				k, _ := NewKey([]byte(tt.value))
				if r.Len() != 1 || r.Current().Fingerprint() != k.Fingerprint() {
					t.Errorf("got %v, want %v", r, k)
				}
				return
			}
			if r.Len() != len(tt.want) {
				t.Fatalf("got %d keys, want %d", r.Len(), len(tt.want))
			}
			for i, k := range r.Keys() {
				if k.Fingerprint() != mustKey(t, tt.want[i]).Fingerprint() {
					t.Errorf("key %d is %v, want seed %d", i, k, tt.want[i])
				}
			}
		})
	}
}

func TestFromEnvErrors(t *testing.T) {
	const name = "SSECFS_TEST_KEY"
	t.Run("unset", func(t *testing.T) {
		t.Setenv(name, "x") // restored afterwards
		os.Unsetenv(name)
		_, err := FromEnv(name)
		wantErrContains(t, err, "environment variable "+name, "not set")
	})
	t.Run("empty", func(t *testing.T) {
		t.Setenv(name, "")
		_, err := FromEnv(name)
		wantErrContains(t, err, "environment variable "+name, "empty")
	})
	t.Run("blank", func(t *testing.T) {
		t.Setenv(name, " \n ")
		_, err := FromEnv(name)
		wantErrContains(t, err, "environment variable "+name, "empty")
	})
	t.Run("only separators", func(t *testing.T) {
		t.Setenv(name, ":::")
		_, err := FromEnv(name)
		wantErrContains(t, err, "environment variable "+name, "contains no keys")
	})
	t.Run("bad second entry", func(t *testing.T) {
		t.Setenv(name, b64(1)+":"+b64(2)[:20])
		_, err := FromEnv(name)
		wantErrContains(t, err, "environment variable "+name+", entry 2", "decodes to 15 bytes")
	})
}

func TestFromCommand(t *testing.T) {
	ctx := context.Background()
	t.Run("printf a key", func(t *testing.T) {
		r, err := FromCommand(ctx, "printf '%s\\n' '"+b64(1)+"' '# old' '"+b64(2)+"'")
		if err != nil {
			t.Fatal(err)
		}
		if r.Len() != 2 || r.Current().Fingerprint() != mustKey(t, 1).Fingerprint() {
			t.Errorf("got %v", r)
		}
	})
	t.Run("stderr is not parsed", func(t *testing.T) {
		r, err := FromCommand(ctx, "echo 'a warning' >&2; echo "+b64(1))
		if err != nil {
			t.Fatal(err)
		}
		if r.Len() != 1 {
			t.Errorf("got %v", r)
		}
	})
	t.Run("failing command", func(t *testing.T) {
		_, err := FromCommand(ctx, "exit 3")
		wantErrContains(t, err, "key command failed", "exit status 3")
	})
	t.Run("failing command after printing a key", func(t *testing.T) {
		_, err := FromCommand(ctx, "echo "+b64(1)+"; exit 1")
		wantErrContains(t, err, "exit status 1")
	})
	t.Run("command not found", func(t *testing.T) {
		_, err := FromCommand(ctx, "ssecfs-no-such-command-here 2>/dev/null")
		wantErrContains(t, err, "exit status 127", "not found")
	})
	t.Run("garbage output", func(t *testing.T) {
		_, err := FromCommand(ctx, "echo hello world")
		wantErrContains(t, err, "output of key command, line 1", "not valid base64")
	})
	t.Run("no output", func(t *testing.T) {
		_, err := FromCommand(ctx, "true")
		wantErrContains(t, err, "contains no keys")
	})
	t.Run("empty command", func(t *testing.T) {
		_, err := FromCommand(ctx, "  ")
		wantErrContains(t, err, "empty")
	})
	t.Run("too much output", func(t *testing.T) {
		_, err := FromCommand(ctx, "head -c 2000000 /dev/zero")
		wantErrContains(t, err, "more than 1048576 bytes")
	})
	t.Run("endless output", func(t *testing.T) {
		_, err := FromCommand(ctx, "yes")
		wantErrContains(t, err, "more than 1048576 bytes")
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := FromCommand(ctx, "sleep 10")
		wantErrContains(t, err, "did not finish in time")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v to give up", d)
		}
	})
}

// TestErrorsNeverLeak feeds every source malformed input that contains a
// secret and checks the secret is not in the error.
func TestErrorsNeverLeak(t *testing.T) {
	const name = "SSECFS_TEST_KEY"
	for _, in := range leakyInputs() {
		t.Run(in.name, func(t *testing.T) {
			path := writeKeyFile(t, in.data, 0o600)
			_, err := FromFile(path)
			if err == nil {
				t.Fatal("FromFile succeeded")
			}
			assertNoSecret(t, err.Error(), in.secrets)

			t.Setenv(name, in.data)
			_, err = FromEnv(name)
			if err == nil {
				t.Fatal("FromEnv succeeded")
			}
			assertNoSecret(t, err.Error(), in.secrets)

			// The secret is in the command text too: it must not be
			// echoed back either.
			_, err = FromCommand(context.Background(), "printf '%s' '"+in.data+"'")
			if err == nil {
				t.Fatal("FromCommand succeeded")
			}
			assertNoSecret(t, err.Error(), in.secrets)
			_, err = FromCommand(context.Background(), "printf '%s' '"+in.data+"'; exit 2")
			wantErrContains(t, err, "exit status 2")
			assertNoSecret(t, err.Error(), in.secrets)

			// A mode error must not show content either.
			path = writeKeyFile(t, in.data, 0o644)
			_, err = FromFile(path)
			wantErrContains(t, err, "chmod 600")
			assertNoSecret(t, err.Error(), in.secrets)
		})
	}
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	path := writeKeyFile(t, b64(1)+"\n", 0o600)
	t.Setenv("SSECFS_TEST_KEY", b64(2))
	cmd := "echo " + b64(3)
	const one = "give exactly one of --key-file, --key-env, --key-command"
	tests := []struct {
		name    string
		o       Options
		want    byte // seed of the current key
		wantErr []string
	}{
		{"none", Options{}, 0, []string{one}},
		{"file and env", Options{File: path, Env: "SSECFS_TEST_KEY"}, 0, []string{one, "--key-file and --key-env"}},
		{"env and command", Options{Env: "SSECFS_TEST_KEY", Command: cmd}, 0, []string{one}},
		{"all three", Options{File: path, Env: "SSECFS_TEST_KEY", Command: cmd}, 0, []string{one}},
		{"file", Options{File: path}, 1, nil},
		{"env", Options{Env: "SSECFS_TEST_KEY"}, 2, nil},
		{"command", Options{Command: cmd}, 3, nil},
		{"file error passes through", Options{File: path + ".missing"}, 0, []string{path + ".missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Load(ctx, tt.o)
			if tt.wantErr != nil {
				wantErrContains(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Current().Fingerprint() != mustKey(t, tt.want).Fingerprint() {
				t.Errorf("current key %v, want seed %d", r.Current(), tt.want)
			}
		})
	}
}
