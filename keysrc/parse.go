package keysrc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// makeKeyHint tells the user how to produce a valid key line.
const makeKeyHint = "make one with: head -c 32 /dev/urandom | base64"

// Parse reads keys in key-file format: one key per line, each the base64 of
// exactly 32 bytes. Standard padded base64 is what we write; unpadded and
// URL-safe base64 are accepted too because keys get copied through tools
// that produce them. Surrounding whitespace (and the \r of CRLF files) is
// trimmed; blank lines and lines starting with '#' are ignored.
//
// Data of exactly 32 bytes is one raw binary key: no key line can be that
// short (base64 of 32 bytes is at least 43 characters), so there is no
// ambiguity, and it lets a key made with "head -c 32 /dev/urandom > file",
// or a 32-character key used by other S3 tools, be used as is.
//
// source names where data came from (e.g. "key file /etc/k") and starts
// every error, together with the 1-based line number. Errors never contain
// any part of the data: they say what is wrong, not what the line was.
func Parse(source string, data []byte) ([]Key, error) {
	return parse(source, "line", data)
}

// parse is Parse with the name of the unit being numbered in errors ("line"
// for files and command output, "entry" for ':'-separated variables).
func parse(source, unit string, data []byte) ([]Key, error) {
	keys, err := parseLines(source, unit, data)
	if err != nil && len(data) == keySize {
		// Not a key file, so it is a raw key (see above).
		k, kerr := NewKey(data)
		if kerr != nil {
			return nil, kerr // cannot happen: the length was checked
		}
		return []Key{k}, nil
	}
	return keys, err
}

// parseLines parses the text format.
func parseLines(source, unit string, data []byte) ([]Key, error) {
	// Editors on Windows like to start files with a UTF-8 byte order mark.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var keys []Key
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line) // also removes the \r of CRLF
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKeyLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s, %s %d: %w", source, unit, i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s contains no keys; put one base64 key per line, %s", source, makeKeyHint)
	}
	return keys, nil
}

// parseKeyLine decodes one trimmed, non-comment line. Its errors describe
// the problem without quoting the line, which may be (most of) a secret.
func parseKeyLine(line string) (Key, error) {
	raw, err := decodeBase64(line)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			// The column is safe to show; the character there is not.
			return Key{}, fmt.Errorf("not valid base64 (bad character or padding at column %d); want the base64 of 32 bytes, %s", int64(ce)+1, makeKeyHint)
		}
		return Key{}, fmt.Errorf("not valid base64; want the base64 of 32 bytes, %s", makeKeyHint)
	}
	if len(raw) != keySize {
		msg := fmt.Sprintf("decodes to %d bytes, want 32 bytes (AES-256); %s", len(raw), makeKeyHint)
		if len(line) == keySize {
			// Likely a 32-character text key followed by a newline.
			msg += " (a raw 32-byte key must be the whole input, with no newline)"
		}
		return Key{}, errors.New(msg)
	}
	return NewKey(raw)
}

// decodeBase64 picks the one encoding the line can be in, rather than trying
// them all, so that an error refers to a single, predictable decoding.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}
