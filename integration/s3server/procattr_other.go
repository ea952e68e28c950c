//go:build !linux

package s3server

import "syscall"

// procAttr: without Pdeathsig outside Linux, weed may outlive a crashed test process there.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
