package keysrc

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// rawKey returns 32 distinctive bytes seed, seed+1, ... so that leaks of
// the raw bytes in any rendering are easy to spot.
func rawKey(seed byte) []byte {
	raw := make([]byte, keySize)
	for i := range raw {
		raw[i] = seed + byte(i)
	}
	return raw
}

func mustKey(t *testing.T, seed byte) Key {
	t.Helper()
	k, err := NewKey(rawKey(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// secretForms lists renderings of raw key bytes that must never show up in
// output or errors.
func secretForms(raw []byte) []string {
	return []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		fmt.Sprintf("%v", raw),
		fmt.Sprintf("%d", [keySize]byte(raw)),
		string(raw),
	}
}

// assertNoLeak fails if s contains any rendering of raw.
func assertNoLeak(t *testing.T, what, s string, raw []byte) {
	t.Helper()
	for _, form := range secretForms(raw) {
		if strings.Contains(s, form) {
			t.Errorf("%s leaks key material (%q) in %q", what, form, s)
		}
	}
}

// rawOf is a copy of k's raw bytes, nil for the zero Key.
func rawOf(k Key) []byte {
	if k.raw == nil {
		return nil
	}
	return []byte(*k.raw)
}

// keyFileHeader opens the key files formatKeyFile writes, as a user would
// write one.
const keyFileHeader = "# ssecfs key file: first line writes, later lines only read. Keep it secret (chmod 600).\n"

// formatKeyFile returns key-file content for keys, current key first: the
// header comment, then for each key a "# fingerprint <fp>" comment (so keys
// can be told apart without decoding them) followed by its base64 line.
// Parse reads it back. Zero Keys are skipped: they have nothing to write.
func formatKeyFile(keys ...Key) []byte {
	var b bytes.Buffer
	b.WriteString(keyFileHeader)
	for _, k := range keys {
		if k.isZero() {
			continue
		}
		b.WriteString("# fingerprint ")
		b.WriteString(k.Fingerprint())
		b.WriteString("\n")
		b.WriteString(k.Base64())
		b.WriteString("\n")
	}
	return b.Bytes()
}
