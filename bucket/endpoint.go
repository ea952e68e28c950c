package bucket

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// resolveEndpoint picks the endpoint from the flag or the environment and refuses plain
// HTTP unless insecure is set: the SDK would happily send an SSE-C key in clear, and a
// key that crossed the wire in clear is a leaked key.
// It returns "" when the SDK should use AWS's own endpoints (always https).
func resolveEndpoint(flag string, insecure bool) (string, error) {
	ep, from := flag, "--endpoint"
	if ep == "" {
		for _, name := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
			if v := os.Getenv(name); v != "" {
				ep, from = v, name
				break
			}
		}
	}
	if ep == "" {
		return "", nil
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("endpoint %q (from %s) is not a URL; want https://HOST[:PORT]", ep, from)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure {
			return "", fmt.Errorf("refusing endpoint %s (from %s): SSE-C keys must not travel over plain HTTP; "+
				"use https://, or pass --insecure-http if you accept that the key can be read on the wire", ep, from)
		}
	default:
		return "", fmt.Errorf("endpoint %q (from %s) has scheme %q; want https", ep, from, u.Scheme)
	}
	return strings.TrimRight(ep, "/"), nil
}
