package bucket

import (
	"context"
	"fmt"
)

// ListAll calls fn with every object whose key starts with prefix, at any depth, a page
// at a time (no delimiter). Renaming a directory moves all of them.
func (b *Bucket) ListAll(ctx context.Context, prefix string, fn func([]Entry) error) error {
	token := ""
	for page := 0; page < maxListPages; page++ {
		entries, next, err := b.listPage(ctx, prefix, "", token)
		if err != nil {
			return err
		}
		if err := fn(entries); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		token = next
	}
	return &Error{Op: opList, Object: prefix, Err: fmt.Errorf("more than %d pages; giving up", maxListPages)}
}
