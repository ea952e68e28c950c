package keysrc

import (
	"bytes"
	"crypto/rand"
	"fmt"
)

// keyFileHeader opens every generated key file, so whoever finds the file
// knows what it is and how to treat it.
const keyFileHeader = "# ssecfs key file: first line writes, later lines only read. Keep it secret (chmod 600).\n"

// GenerateKey makes a new random key with crypto/rand.
func GenerateKey() (Key, error) {
	raw := make([]byte, keySize)
	if _, err := rand.Read(raw); err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return NewKey(raw)
}

// FormatKeyFile returns key-file content for keys, current key first: the
// header comment, then for each key a "# fingerprint <fp>" comment (so keys
// can be told apart without decoding them) followed by its base64 line.
// Parse reads it back. Zero Keys are skipped: they have nothing to write.
func FormatKeyFile(keys ...Key) []byte {
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
