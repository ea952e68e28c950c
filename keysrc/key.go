package keysrc

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// keySize is the size of an SSE-C key: S3 only accepts AES-256.
const keySize = 32

// Key is one 32-byte SSE-C key. It is immutable and cheap to copy. Compare
// keys by Fingerprint, not with ==.
//
// Every way of printing or marshalling a Key yields "key <fingerprint>", so a
// Key can be logged or put in an error without leaking it.
type Key struct {
	fp string // base64 of MD5(raw): not secret, S3 echoes it back

	// The secret parts sit behind pointers to strings. When a Key is in an
	// unexported struct field fmt cannot call our Format method and prints
	// the fields by reflection; it then shows a *string only as an address,
	// for every verb. (A pointer to an array or struct would be followed
	// and printed for verbs that are invalid for pointers, such as %s.)
	raw *string // the 32 raw bytes
	b64 *string // their standard base64, for the SSE-C header
}

// NewKey makes a Key from exactly 32 raw bytes. The bytes are copied.
func NewKey(raw []byte) (Key, error) {
	if len(raw) != keySize {
		return Key{}, fmt.Errorf("key is %d bytes, want %d bytes (AES-256)", len(raw), keySize)
	}
	r := string(raw)
	b := base64.StdEncoding.EncodeToString(raw)
	sum := md5.Sum(raw)
	return Key{fp: base64.StdEncoding.EncodeToString(sum[:]), raw: &r, b64: &b}, nil
}

// Fingerprint is the standard padded base64 of MD5(raw key): exactly what S3
// calls SSECustomerKeyMD5, so it can be matched against what S3 returns. It
// is safe to show; it is "" for the zero Key.
func (k Key) Fingerprint() string { return k.fp }

// Base64 is the standard base64 of the raw key. It exists ONLY to fill the
// SSE-C request header; never log or display it. It is "" for the zero Key.
func (k Key) Base64() string {
	if k.b64 == nil {
		return ""
	}
	return *k.b64
}

// isZero reports whether k was not made by NewKey.
func (k Key) isZero() bool { return k.raw == nil }

// String returns "key <fingerprint>".
func (k Key) String() string {
	if k.isZero() {
		return "key (none)"
	}
	return "key " + k.fp
}

// GoString makes %#v print the fingerprint form too, instead of the fields.
func (k Key) GoString() string { return k.String() }

// Format implements fmt.Formatter so that every verb (%v %+v %#v %s %x %X %d
// %q ...) prints the fingerprint form. Without it, %x would print the hex of
// the fields and %+v would name them. Width, precision and flags are honoured
// as they would be for a string; %q quotes it.
func (k Key) Format(f fmt.State, verb rune) {
	if verb != 'q' {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), k.String())
}

// MarshalText returns the fingerprint form, so encoders that use
// encoding.TextMarshaler (including map keys in JSON) cannot leak the key.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalJSON returns the fingerprint form as a JSON string.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }
