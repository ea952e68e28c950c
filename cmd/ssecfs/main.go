// Command ssecfs mounts an S3 bucket whose objects are encrypted with SSE-C (AES-256 with
// a key the customer keeps) as a local directory.
package main

import (
	"os"
	"os/user"
)

func main() {
	setHome()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// setHome sets HOME from the user database when it is not set, as when mount(8) runs
// us (it clears HOME) or systemd does: the AWS shared config and credentials files
// (~/.aws) and the log of uploads in progress are found through it.
func setHome() {
	if os.Getenv("HOME") != "" {
		return
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		os.Setenv("HOME", u.HomeDir)
	}
}
