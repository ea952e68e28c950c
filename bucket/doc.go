// Package bucket is ssecfs's one door to S3. Every request that reads or writes object
// data carries the SSE-C headers of a key from the keyring; listings carry none, because
// S3 needs none for them. It owns the HTTP client (https only unless the user said
// otherwise), retries, the choice of key per object, and the mapping of S3 answers to a
// small set of error kinds that the filesystem turns into errno values.
//
// Every request it sends, whichever method sent it, is reported once to
// Config.Observer (observe.go, a middleware of the S3 client): metrics, the audit log
// of key usage and the debug log of requests watch that one place.
//
// Nothing here knows about FUSE.
package bucket
