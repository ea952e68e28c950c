package keysrc

import (
	"fmt"
	"strings"
)

// Keyring is an ordered, non-empty set of keys. The first key is the current
// key: it encrypts everything written and is tried first on reads. Later keys
// are older ones kept so that objects written before a key rotation stay
// readable. A Keyring is immutable, hence safe for concurrent use.
type Keyring struct {
	keys []Key
}

// NewKeyring builds a keyring, current key first. Keys with the same
// fingerprint as an earlier one are dropped, so listing a key twice (say,
// while rotating) cannot make the order ambiguous.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("keyring needs at least one key")
	}
	seen := make(map[string]bool, len(keys))
	kept := make([]Key, 0, len(keys))
	for i, k := range keys {
		if k.isZero() {
			return nil, fmt.Errorf("keyring: key %d is empty (not made by NewKey)", i+1)
		}
		if seen[k.fp] {
			continue
		}
		seen[k.fp] = true
		kept = append(kept, k)
	}
	return &Keyring{keys: kept}, nil
}

// Current is the key used for writes and tried first on reads.
func (r *Keyring) Current() Key { return r.keys[0] }

// Keys returns the keys, current first. The slice is a copy.
func (r *Keyring) Keys() []Key { return append([]Key(nil), r.keys...) }

// Len is the number of distinct keys.
func (r *Keyring) Len() int { return len(r.keys) }

// Fingerprints returns the fingerprints in keyring order.
func (r *Keyring) Fingerprints() []string {
	fps := make([]string, len(r.keys))
	for i, k := range r.keys {
		fps[i] = k.fp
	}
	return fps
}

// String shows the fingerprints, marking the current one, e.g.
// "keyring [fp1 (current), fp2]".
func (r *Keyring) String() string {
	var b strings.Builder
	b.WriteString("keyring [")
	for i, k := range r.keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.fp)
		if i == 0 {
			b.WriteString(" (current)")
		}
	}
	b.WriteString("]")
	return b.String()
}
