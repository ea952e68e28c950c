package main

import (
	"os"
	"syscall"
)

// fadviseRandom tells the kernel that f is read at random (POSIX_FADV_RANDOM), so it does not read ahead.
func fadviseRandom(f *os.File) {
	const posixFadvRandom = 1
	_, _, _ = syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, posixFadvRandom, 0, 0)
}
