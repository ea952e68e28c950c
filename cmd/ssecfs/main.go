// Command ssecfs mounts an S3 bucket whose objects are encrypted with SSE-C (AES-256 with
// a key the customer keeps) as a local directory.
package main

import (
	"fmt"
	"os"
)

const usage = `ssecfs mounts an S3 bucket encrypted with SSE-C (customer-provided AES-256 keys)
as a local directory. Every request that touches object data carries the key; the key is
never logged, never put on a command line, and plaintext never touches the local disk.

Usage:
  ssecfs mount [flags] BUCKET[/PREFIX] MOUNTPOINT   mount a bucket (see: ssecfs mount --help)
  ssecfs keygen [-o FILE]                           make a new key (see: ssecfs keygen --help)
  ssecfs rotate [flags] BUCKET[/PREFIX]             re-encrypt under a new key (see: ssecfs rotate --help)
  ssecfs check [flags] BUCKET[/PREFIX]              can these keys use this bucket? (see: ssecfs check --help)
  ssecfs help                                       this text

Unmount with: umount MOUNTPOINT (or fusermount3 -u MOUNTPOINT as a non-root user).
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "mount":
		os.Exit(runMount(os.Args[2:]))
	case "keygen":
		os.Exit(runKeygen(os.Args[2:]))
	case "rotate":
		os.Exit(runRotate(os.Args[2:]))
	case "check":
		os.Exit(runCheck(os.Args[2:]))
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "ssecfs: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}
