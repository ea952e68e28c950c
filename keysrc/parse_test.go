package keysrc

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// b64 is the standard padded base64 of the test key with this seed.
func b64(seed byte) string { return base64.StdEncoding.EncodeToString(rawKey(seed)) }

func TestParseGood(t *testing.T) {
	rawBinary := rawKey(200)
	hashFirst := rawKey(0)
	hashFirst[0] = '#' // looks like a comment, but 32 bytes: a raw key
	withNewline := rawKey(0)
	withNewline[10] = '\n'
	ascii32 := []byte("0123456789abcdefghijklmnopqrstuv")

	tests := []struct {
		name string
		data string
		want [][]byte // raw keys, in order
	}{
		{"one key", b64(1), [][]byte{rawKey(1)}},
		{"trailing newline", b64(1) + "\n", [][]byte{rawKey(1)}},
		{"two keys in order", b64(2) + "\n" + b64(1) + "\n", [][]byte{rawKey(2), rawKey(1)}},
		{"comments and blank lines",
			"# ssecfs key file\n\n   # indented comment\n" + b64(1) + "\n\n#" + b64(9) + "\n  \t\n" + b64(2) + "\n# end\n",
			[][]byte{rawKey(1), rawKey(2)}},
		{"surrounding whitespace", "  \t" + b64(1) + " \t\n", [][]byte{rawKey(1)}},
		{"CRLF", "# c\r\n" + b64(1) + "\r\n\r\n" + b64(2) + "\r\n", [][]byte{rawKey(1), rawKey(2)}},
		{"unpadded std", base64.RawStdEncoding.EncodeToString(rawKey(250)), [][]byte{rawKey(250)}},
		{"URL-safe padded", base64.URLEncoding.EncodeToString(rawKey(250)), [][]byte{rawKey(250)}},
		{"URL-safe unpadded", base64.RawURLEncoding.EncodeToString(rawKey(250)), [][]byte{rawKey(250)}},
		{"byte order mark", "\ufeff" + b64(1) + "\n", [][]byte{rawKey(1)}},
		{"no final newline after comment", b64(1) + "\n# last", [][]byte{rawKey(1)}},
		{"raw 32 binary bytes", string(rawBinary), [][]byte{rawBinary}},
		{"raw 32 bytes starting with #", string(hashFirst), [][]byte{hashFirst}},
		{"raw 32 bytes containing newline", string(withNewline), [][]byte{withNewline}},
		{"raw 32 ASCII characters", string(ascii32), [][]byte{ascii32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := Parse("test input", []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(keys) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(keys), len(tt.want))
			}
			for i, k := range keys {
				if !bytes.Equal(rawOf(k), tt.want[i]) {
					t.Errorf("key %d differs", i)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(rawKey(3)[:16])
	long := base64.StdEncoding.EncodeToString(append(rawKey(3), 0))
	tests := []struct {
		name string
		data string
		want []string // substrings of the error
	}{
		{"empty", "", []string{"test input contains no keys", "head -c 32 /dev/urandom | base64"}},
		{"only blank lines", "\n\n  \r\n", []string{"contains no keys"}},
		{"only comments", "# one\n# " + b64(1) + "\n", []string{"contains no keys"}},
		{"wrong length 16 on line 3", "# c\n" + b64(1) + "\n" + short + "\n",
			[]string{"test input, line 3:", "decodes to 16 bytes", "want 32 bytes (AES-256)", "make one with: head -c 32 /dev/urandom | base64"}},
		{"wrong length 33 on line 1", long, []string{"line 1:", "decodes to 33 bytes", "want 32 bytes"}},
		{"bad base64 on line 2", b64(1) + "\nnot base64 at all!\n", []string{"test input, line 2:", "not valid base64"}},
		{"bad character in key", "\n" + b64(1)[:20] + "*" + b64(1)[21:], []string{"line 2:", "not valid base64", "column 21"}},
		{"bad padding", b64(1) + "==", []string{"line 1:", "not valid base64"}},
		{"mixed alphabets", strings.Replace(b64(2), "A", "-", 1) + "+", []string{"line 1:", "not valid base64"}},
		{"CRLF line numbers", "# c\r\n\r\n" + short + "\r\n", []string{"line 3:", "decodes to 16 bytes"}},
		{"32-char text key with newline", "0123456789abcdefghijklmnopqrstuv\n",
			[]string{"line 1:", "decodes to 24 bytes", "no newline"}},
		{"64 raw bytes", string(append(rawKey(0), rawKey(100)...)), []string{"line", "base64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := Parse("test input", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse succeeded with %d keys, want error", len(keys))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// leakyInputs are malformed inputs that contain (most of) a secret. The
// secret strings listed with each must not appear in any error.
func leakyInputs() []struct {
	name    string
	data    string
	secrets []string
} {
	k := b64(77)
	k24 := base64.StdEncoding.EncodeToString(rawKey(77)[:24])
	k31 := base64.StdEncoding.EncodeToString(rawKey(77)[:31])
	k33 := base64.StdEncoding.EncodeToString(append(rawKey(77), 1))
	return []struct {
		name    string
		data    string
		secrets []string
	}{
		{"24-byte key", k24 + "\n", []string{k24}},
		{"31-byte key", k31, []string{k31}},
		{"33-byte key", k33, []string{k33}},
		{"key with junk appended", k + "x", []string{k}},
		{"key with bad char", k[:30] + "!" + k[31:], []string{k[:30], k[31:]}},
		{"key and trailing word", k + " extra", []string{k}},
		{"shell assignment", "SSECFS_KEY=" + k, []string{k}},
		{"key twice on a line", k + k, []string{k}},
		{"good key then bad", b64(78) + "\n" + k24 + "\n", []string{b64(78), k24}},
	}
}

// assertNoSecret fails if msg contains any 12-character run of a secret.
func assertNoSecret(t *testing.T, msg string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		for i := 0; i+12 <= len(s); i++ {
			if strings.Contains(msg, s[i:i+12]) {
				t.Errorf("error leaks secret fragment %q: %s", s[i:i+12], msg)
				break
			}
		}
	}
}

func TestParseErrorsNeverLeak(t *testing.T) {
	for _, in := range leakyInputs() {
		t.Run(in.name, func(t *testing.T) {
			_, err := Parse("test input", []byte(in.data))
			if err == nil {
				t.Fatal("Parse succeeded, want error")
			}
			assertNoSecret(t, err.Error(), in.secrets)
			assertNoLeak(t, "Parse error", err.Error(), rawKey(77))
		})
	}
}
