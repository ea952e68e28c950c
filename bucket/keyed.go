package bucket

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ssecfs/ssecfs/keysrc"
)

// sseC carries the three SSE-C request fields, or nothing for an object that is not
// SSE-C encrypted.
type sseC struct {
	Algorithm, Key, KeyMD5 *string
}

func headersFor(k *keysrc.Key) sseC {
	if k == nil {
		return sseC{}
	}
	return sseC{aws.String("AES256"), aws.String(k.Base64()), aws.String(k.Fingerprint())}
}

// withKey runs send with the key that opened object before, else with each key of the
// keyring in turn, moving on only when S3 answers 403 (that key is not this object's).
// An object that turns out not to be SSE-C encrypted (S3 answers 400: the encryption
// parameters are not applicable) is read without a key, with one warning per mount.
func (b *Bucket) withKey(ctx context.Context, op, object string, send func(context.Context, sseC) error) error {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	order := b.keyOrder(object)
	var tried []string
	var last error
	for n := 0; n < len(order); n++ {
		i := order[n]
		var key *keysrc.Key
		if i != plainObject {
			key = &b.keys[i]
			tried = append(tried, key.Fingerprint())
		}
		err := send(ctx, headersFor(key))
		if err == nil {
			b.remember(object, i)
			return nil
		}
		last = err
		status := statusCode(err)
		switch {
		case status == 403:
			continue
		case i != plainObject && notApplicable(op, err) && !slices.Contains(order[n+1:], plainObject):
			order = append(order[:n+1:n+1], plainObject)
			continue
		case i == plainObject && status == 400:
			// Remembered as plain but now wants a key: it was replaced; try the keys.
			continue
		}
		return &Error{Op: op, Object: object, Fingerprints: tried, Kind: kindOf(err), Err: err}
	}
	return &Error{Op: op, Object: object, Fingerprints: tried, Kind: ErrAccessDenied, Err: last}
}

// keyOrder lists the key indexes to try: the remembered one first.
func (b *Bucket) keyOrder(object string) []int {
	order := make([]int, 0, len(b.keys)+1)
	first, known := b.keyOf.Get(object)
	if known {
		order = append(order, first)
	}
	for i := range b.keys {
		if !known || i != first {
			order = append(order, i)
		}
	}
	return order
}

func (b *Bucket) remember(object string, i int) {
	if i == plainObject {
		b.plainOnce.Do(func() {
			b.log.Warn("object is not SSE-C encrypted; reading it, and others like it, without a key",
				"object", object)
		})
	}
	if i == 0 {
		// The current key is tried first anyway; keep the memory for the exceptions.
		b.keyOf.Remove(object)
		return
	}
	b.keyOf.Add(object, i)
}

// notApplicable reports S3's answer to SSE-C headers on an object that is not SSE-C
// encrypted: 400 InvalidRequest "The encryption parameters are not applicable to this
// object", or for HEAD, which has no body, a bare 400.
func notApplicable(op string, err error) bool {
	if statusCode(err) != 400 {
		return false
	}
	code := errorCode(err)
	if op == opHead && (code == "BadRequest" || code == "") {
		return true
	}
	return code == "InvalidRequest" && strings.Contains(strings.ToLower(err.Error()), "not applicable")
}
