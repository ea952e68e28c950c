package fs

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
)

// Extended attributes are kept as s3fs keeps them: x-amz-meta-xattr holds a JSON object
// that maps each full name ("user.comment") to the base64 of its value, the whole string
// then URL-encoded (s3fs src/string_util.cpp, raw_build_xattrs and parse_xattrs).

// parseXattrs reads an x-amz-meta-xattr value; what it cannot read is left out.
func parseXattrs(v string) map[string][]byte {
	raw, err := url.PathUnescape(v)
	if err != nil {
		raw = v
	}
	var enc map[string]string
	if err := json.Unmarshal([]byte(raw), &enc); err != nil {
		return nil
	}
	out := make(map[string][]byte, len(enc))
	for name, b64 := range enc {
		if val, err := base64.StdEncoding.DecodeString(b64); err == nil && name != "" {
			out[name] = val
		}
	}
	return out
}

// encodeXattrs writes extended attributes as x-amz-meta-xattr, names in order.
func encodeXattrs(x map[string][]byte) string {
	names := make([]string, 0, len(x))
	for name := range x {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(`"` + base64.StdEncoding.EncodeToString(x[name]) + `"`)
	}
	b.WriteByte('}')
	return urlEncode(b.String())
}

// urlEncode percent-encodes every byte but letters, digits and -_.~, as s3fs does.
func urlEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
