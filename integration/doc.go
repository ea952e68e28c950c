// Package integration holds the tests that start a real S3 server (SeaweedFS over TLS,
// see s3server) and mount buckets for real through FUSE, driving the mount with real
// tools and system calls.
package integration
