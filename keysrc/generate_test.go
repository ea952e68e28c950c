package keysrc

import (
	"bytes"
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
	if len(rawOf(a)) != 32 {
		t.Errorf("generated key is %d bytes", len(rawOf(a)))
	}
	if a.Fingerprint() == b.Fingerprint() {
		t.Errorf("two generated keys are equal")
	}
}

// A key file with a header comment and a comment before each key parses back to the
// same keys.
func TestCommentedKeyFileRoundTrip(t *testing.T) {
	a, b := mustKey(t, 1), mustKey(t, 50)
	data := formatKeyFile(a, b)
	want := keyFileHeader +
		"# fingerprint " + a.Fingerprint() + "\n" + a.Base64() + "\n" +
		"# fingerprint " + b.Fingerprint() + "\n" + b.Base64() + "\n"
	if string(data) != want {
		t.Errorf("formatKeyFile =\n%s\nwant\n%s", data, want)
	}
	keys, err := Parse("generated", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(rawOf(keys[0]), rawOf(a)) || !bytes.Equal(rawOf(keys[1]), rawOf(b)) {
		t.Errorf("round trip gave %v", keys)
	}
}
