// Package keysrc owns the SSE-C customer keys of ssecfs: where they come
// from (a key file, an environment variable or a command), the keyring that
// orders them (current key first, older keys after it for reads), and the
// fingerprints (MD5 of the key, as S3 reports it) used to talk about a key
// without revealing it.
//
// The one rule of this package is that key material never leaves it by
// accident: a Key prints, marshals and appears in errors only as its
// fingerprint. The key itself is reachable only through Key.Base64, for the
// SSE-C request header.
package keysrc
