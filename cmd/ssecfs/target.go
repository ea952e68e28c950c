package main

import (
	"fmt"
	"strings"
)

// parseTarget splits "BUCKET[/PREFIX]" (an s3:// in front is allowed) into the bucket
// and a prefix that is "" or ends in "/".
func parseTarget(arg string) (bucket, prefix string, err error) {
	bucket, prefix, _ = strings.Cut(strings.TrimPrefix(arg, "s3://"), "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", arg)
	}
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		prefix += "/"
	}
	return bucket, prefix, nil
}
