package keysrc

import (
	"crypto/rand"
	"fmt"
)

// GenerateKey makes a new random key with crypto/rand.
func GenerateKey() (Key, error) {
	raw := make([]byte, keySize)
	if _, err := rand.Read(raw); err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return NewKey(raw)
}
