// Package fs is the FUSE node tree of ssecfs: directories are key prefixes, files are
// objects. Nodes are made on lookup, from the listing that named them where there was
// one (so `ls -l` costs list requests only), else from a keyed HEAD.
//
// Reads go through the page cache to keyed ranged GETs pinned to the ETag seen at open.
// This package knows nothing of S3 requests: it talks to an ObjectStore.
package fs
