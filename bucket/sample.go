package bucket

import (
	"context"
	"errors"
	"strings"
)

var errSampleFull = errors.New("sample full")

// ListSample lists the keys of up to n objects under prefix, at any depth, in key order,
// leaving out directory markers (keys ending in "/").
func (b *Bucket) ListSample(ctx context.Context, prefix string, n int) ([]string, error) {
	var keys []string
	if n <= 0 {
		return nil, nil
	}
	err := b.ListAll(ctx, prefix, func(entries []Entry) error {
		for _, e := range entries {
			if strings.HasSuffix(e.Key, "/") {
				continue
			}
			keys = append(keys, e.Key)
			if len(keys) >= n {
				return errSampleFull
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSampleFull) {
		return keys, err
	}
	return keys, nil
}
