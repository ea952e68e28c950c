package keysrc

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// fuzzSource names the input in errors. It is short and holds no run of base64
// characters, so that such a run in an error can only have come from the input.
const fuzzSource = "src"

// keyParsers are the parsers of untrusted key text: key files and command output
// (Parse), and environment variables (parseEnv).
var keyParsers = []struct {
	name  string
	parse func([]byte) ([]Key, error)
}{
	{"Parse", func(b []byte) ([]Key, error) { return Parse(fuzzSource, b) }},
	{"parseEnv", func(b []byte) ([]Key, error) { return parseEnv(fuzzSource, string(b)) }},
}

// addKeyFileSeeds adds well-formed, malformed and borderline key text.
func addKeyFileSeeds(f *testing.F) {
	k := b64(77)
	for _, s := range []string{
		"", "\n", "#", "# only a comment\n", k, k + "\n", b64(1) + "\n" + b64(2) + "\n",
		"# c\r\n" + b64(1) + "\r\n", "\ufeff" + k, "  \t" + k + " \t\n",
		base64.RawStdEncoding.EncodeToString(rawKey(250)), base64.URLEncoding.EncodeToString(rawKey(250)),
		base64.RawURLEncoding.EncodeToString(rawKey(250)), string(rawKey(200)), "0123456789abcdefghijklmnopqrstuv",
		"0123456789abcdefghijklmnopqrstuv\n", "0123456789:abcdefghijklmnopqrstu", b64(1) + ":" + b64(2) + "::",
		k + "x", k + "==", k[:30] + "!" + k[31:], k + " extra", "SSECFS_KEY=" + k, k + k,
		base64.StdEncoding.EncodeToString(rawKey(77)[:31]), base64.StdEncoding.EncodeToString(append(rawKey(77), 1)),
		hex.EncodeToString(rawKey(77)), strings.Replace(k, "A", "-", 1) + "+", "====", "\x00\xff\xfe",
		string(append(rawKey(0), rawKey(100)...)),
	} {
		f.Add([]byte(s))
	}
}

// FuzzParseKeys: the key-text parsers never panic; what they accept is at least one
// 32-byte key, which a key file written by formatKeyFile gives back; 32 bytes of
// anything are one raw key; and an error never repeats a run of base64 or hex
// characters from the input, which could be (part of) a key.
func FuzzParseKeys(f *testing.F) {
	addKeyFileSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range keyParsers {
			keys, err := p.parse(data)
			if err != nil {
				if keys != nil {
					t.Errorf("%s: keys and error %v", p.name, err)
				}
				assertNoInputRun(t, p.name, err.Error(), data)
				continue
			}
			if len(keys) == 0 {
				t.Fatalf("%s(%q): no keys and no error", p.name, data)
			}
			for i, k := range keys {
				if len(rawOf(k)) != keySize || k.Fingerprint() == "" || len(k.Base64()) != 44 {
					t.Fatalf("%s(%q): key %d has %d bytes", p.name, data, i, len(rawOf(k)))
				}
			}
			r, err := NewKeyring(keys...)
			if err != nil {
				t.Fatalf("%s: NewKeyring of parsed keys: %v", p.name, err)
			}
			again, err := Parse(fuzzSource, formatKeyFile(r.Keys()...))
			if err != nil || len(again) != r.Len() {
				t.Fatalf("%s: a written key file parses as %d keys, %v; want %d", p.name, len(again), err, r.Len())
			}
			for i, k := range again {
				if k.Fingerprint() != r.Keys()[i].Fingerprint() {
					t.Errorf("%s: key %d changed when written and read back", p.name, i)
				}
			}
		}
		if len(data) == keySize {
			keys, err := Parse(fuzzSource, data)
			if err != nil || len(keys) != 1 || !bytes.Equal(rawOf(keys[0]), data) {
				t.Errorf("Parse of 32 bytes = %d keys, %v; want them as one raw key", len(keys), err)
			}
		}
	})
}

// assertNoInputRun fails if msg contains 13 or more consecutive characters of the
// input that are all base64 or hex characters. The fixed text of errors has no such run
// longer than 12 ("/dev/urandom").
func assertNoInputRun(t *testing.T, what, msg string, data []byte) {
	t.Helper()
	const n = 13
	if len(data) > 4096 {
		data = data[:4096] // bound the work; errors come from the first bad line anyway
	}
	run := 0
	for i := range data {
		if isBase64Char(data[i]) {
			run++
		} else {
			run = 0
		}
		if run >= n && strings.Contains(msg, string(data[i+1-n:i+1])) {
			t.Fatalf("%s error repeats input %q: %s", what, data[i+1-n:i+1], msg)
		}
	}
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("+/=-_", c) >= 0
}

// FuzzParseKeysNeverLeak builds input around a secret of 16 to 64 bytes in one of the
// encodings people paste (base64 of every kind, hex, raw), with arbitrary text around
// it, and checks that no error shows the secret in any encoding.
func FuzzParseKeysNeverLeak(f *testing.F) {
	for enc := range uint8(6) {
		f.Add(rawKey(77), "", "", enc)
		f.Add(rawKey(77)[:24], "", "\n", enc)
		f.Add(rawKey(77)[:31], "# c\n", "", enc)
		f.Add(append(rawKey(77), 1), "", "x", enc)
		f.Add(rawKey(77), "SSECFS_KEY=", "", enc)
		f.Add(rawKey(77), b64(78)+"\n", " extra", enc)
		f.Add(rawKey(77), "", b64(78), enc)
		f.Add(rawKey(77), "", ":", enc)
	}
	f.Fuzz(func(t *testing.T, secret []byte, before, after string, enc uint8) {
		if len(secret) < 16 || len(secret) > 64 {
			return
		}
		var encoded string
		switch enc % 6 {
		case 0:
			encoded = base64.StdEncoding.EncodeToString(secret)
		case 1:
			encoded = base64.RawStdEncoding.EncodeToString(secret)
		case 2:
			encoded = base64.URLEncoding.EncodeToString(secret)
		case 3:
			encoded = base64.RawURLEncoding.EncodeToString(secret)
		case 4:
			encoded = hex.EncodeToString(secret)
		case 5:
			encoded = string(secret)
		}
		data := []byte(before + encoded + after)
		for _, p := range keyParsers {
			if _, err := p.parse(data); err != nil {
				for _, form := range []string{
					base64.StdEncoding.EncodeToString(secret), base64.RawStdEncoding.EncodeToString(secret),
					base64.URLEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret),
					hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
				} {
					if strings.Contains(err.Error(), form) {
						t.Fatalf("%s error leaks the secret (%q): %s", p.name, form, err)
					}
				}
				assertNoInputRun(t, p.name, err.Error(), data)
			}
		}
	})
}
