// Package bucket is ssecfs's one door to S3. Every request that reads or writes object
// data carries the SSE-C headers of a key from the keyring; listings carry none, because
// S3 needs none for them. It owns the HTTP client (https only unless the user said
// otherwise), retries, the choice of key per object, and the mapping of S3 answers to a
// small set of error kinds that the filesystem turns into errno values.
//
// Nothing here knows about FUSE.
package bucket
