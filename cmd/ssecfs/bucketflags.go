package main

import (
	"github.com/spf13/pflag"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

// bucketFlags are the flags that say which keys open a bucket and where it is, the same
// for mount, check and rotate: one key source (--key-file, --key-env, --key-command)
// and the endpoint, region, profile and TLS flags.
type bucketFlags struct {
	keys keysrc.Options

	endpoint, region, profile, caBundle string
	insecureHTTP                        bool
	httpVersion                         httpVersion
}

// keyFlagNames and whereFlagNames are the two groups of bucketFlags, in --help order.
var (
	keyFlagNames   = []string{"key-file", "key-env", "key-command"}
	whereFlagNames = []string{"endpoint", "region", "profile", "ca-bundle", "insecure-http", "http-version"}
)

// register adds the flags to fs.
func (b *bucketFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&b.keys.File, "key-file", "", "`FILE` of keys, one base64 key (32 bytes) per line; # comments allowed;\n"+
		"a file of exactly 32 raw bytes is one key. Must not be readable by group or others (chmod 600).")
	fs.StringVar(&b.keys.Env, "key-env", "", "environment variable `NAME` holding keys separated by ':' or newlines")
	fs.StringVar(&b.keys.Command, "key-command", "", "shell `COMMAND` (run with /bin/sh -c) whose output is a key file,\n"+
		"e.g. 'pass show s3/key' or a vault client; it must finish within "+keysrc.CommandTimeout.String())

	fs.StringVar(&b.endpoint, "endpoint", "", "S3 endpoint `URL` (https://...); default AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,\n"+
		"else AWS itself. Path-style addressing is used whenever an endpoint is given.")
	fs.StringVar(&b.region, "region", "", "AWS `REGION`; default from AWS_REGION or the AWS config, else us-east-1")
	fs.StringVar(&b.profile, "profile", "", "`NAME` of a profile in the AWS config and credentials files")
	fs.StringVar(&b.caBundle, "ca-bundle", "", "PEM `FILE` of CA certificates to trust besides the system ones")
	fs.BoolVar(&b.insecureHTTP, "insecure-http", false, "allow an http:// endpoint. The key then crosses the network in clear:\n"+
		"treat it as compromised. Only for throwaway test servers.")
	fs.Var(&b.httpVersion, "http-version", "HTTP `VERSION` spoken to S3: auto (HTTP/2 where the server offers it over TLS,\n"+
		"else 1.1), 1.1, or 2 (refusing a server without it). AWS S3 answers 1.1 only.")
}

// whereGroup is the --help heading of the endpoint and TLS flags, and where
// credentials come from.
var whereGroup = flagGroup{
	title: "Where the bucket is:",
	names: whereFlagNames,
	after: "Credentials come from the standard AWS chain (environment, --profile, SSO, instance role).",
}

// haveKeys reports whether a key source was given.
func (b *bucketFlags) haveKeys() bool {
	return b.keys.File != "" || b.keys.Env != "" || b.keys.Command != ""
}

// config is the bucket.Config of bucket name at the place the flags say. The caller
// adds the keyring and what else it needs (logger, retries, upload journal).
func (b *bucketFlags) config(name string) bucket.Config {
	return bucket.Config{
		Bucket:       name,
		Endpoint:     b.endpoint,
		Region:       b.region,
		Profile:      b.profile,
		CABundle:     b.caBundle,
		InsecureHTTP: b.insecureHTTP,
		HTTPVersion:  bucket.HTTPVersion(b.httpVersion),
	}
}
