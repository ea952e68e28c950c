package bucket

import "context"

// NotSSEC is what WhichKey answers for an object that is not SSE-C encrypted.
const NotSSEC = -1

// WhichKey finds which key of the keyring opens object, with keyed HEADs (the key that
// opened it before is tried first). It answers the key's index in the keyring (0 is
// the current key), or NotSSEC for an object read without a key. An object that no key
// opens gives an error that errors.Is ErrAccessDenied.
func (b *Bucket) WhichKey(ctx context.Context, object string) (int, ObjectInfo, error) {
	info, err := b.Head(ctx, object)
	if err != nil {
		return 0, ObjectInfo{}, err
	}
	if !info.Encrypted {
		return NotSSEC, info, nil
	}
	i, known := b.keyOf.Get(object)
	switch {
	case !known:
		return 0, info, nil // remember forgets the current key: it is tried first anyway
	case i == plainObject:
		return NotSSEC, info, nil
	}
	return i, info, nil
}
