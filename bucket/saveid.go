package bucket

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
)

// A save knows its own writes. Every request that makes an object (PutObject,
// CreateMultipartUpload, CopyObject with new metadata) carries a unique save identifier
// in its user metadata. When such a write fails in a way that does not rule out that the
// server stored it (its answer was lost and the SDK's retry of the conditional write got
// 412, a retried CompleteMultipartUpload found the upload gone, the connection broke),
// a keyed HEAD looks at the object: if it carries our identifier, the write succeeded and
// its ETag is the object's. Without this, a lost answer would turn a saved file into a
// failed close and a spurious conflict copy.

// SaveIDMeta is the user-metadata name (x-amz-meta-ssecfs-save) of the save identifier.
const SaveIDMeta = "ssecfs-save"

func newSaveID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

// withSaveID returns meta (not changed) plus a new save identifier, and the identifier.
func withSaveID(meta map[string]string) (map[string]string, string) {
	id := newSaveID()
	out := make(map[string]string, len(meta)+1)
	maps.Copy(out, meta)
	out[SaveIDMeta] = id
	return out, id
}

// mayHaveLanded reports whether a failed write may still have been stored: anything but
// an answer that refused it outright (400 bad request, 403 denied).
func mayHaveLanded(err error) bool {
	switch statusCode(err) {
	case 400, 403:
		return false
	}
	return true
}

// confirmSave looks, after write op of object failed with err, whether the object now
// carries save id: then the write succeeded and its ETag is returned.
func (b *Bucket) confirmSave(ctx context.Context, op, object, id string, err error) (string, bool) {
	if id == "" || !mayHaveLanded(err) {
		return "", false
	}
	// The caller's context may be what failed; the check has a time of its own.
	info, herr := b.Head(context.WithoutCancel(ctx), object)
	if herr != nil || info.Metadata[SaveIDMeta] != id {
		return "", false
	}
	b.log.Info("a write's answer was lost, but the object holds this write: it succeeded",
		"op", op, "object", object, "err", describe(err))
	return info.ETag, true
}
