package keysrc

import (
	"bytes"
	"strings"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Raw()) != 32 {
		t.Errorf("generated key is %d bytes", len(a.Raw()))
	}
	if a.Fingerprint() == b.Fingerprint() {
		t.Errorf("two generated keys are equal")
	}
}

func TestFormatKeyFileRoundTrip(t *testing.T) {
	a, b := mustKey(t, 1), mustKey(t, 50)
	data := FormatKeyFile(a, b)
	want := keyFileHeader +
		"# fingerprint " + a.Fingerprint() + "\n" + a.Base64() + "\n" +
		"# fingerprint " + b.Fingerprint() + "\n" + b.Base64() + "\n"
	if string(data) != want {
		t.Errorf("FormatKeyFile =\n%s\nwant\n%s", data, want)
	}
	if !strings.HasPrefix(string(data), "# ssecfs key file: first line writes, later lines only read. Keep it secret (chmod 600).\n") {
		t.Errorf("header missing: %q", data)
	}
	keys, err := Parse("generated", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(keys[0].Raw(), a.Raw()) || !bytes.Equal(keys[1].Raw(), b.Raw()) {
		t.Errorf("round trip gave %v", keys)
	}
}
