package s3server

import "syscall"

// procAttr puts weed in its own process group (a Ctrl-C in the terminal reaches only our process, which then stops
// weed in order) and has the kernel SIGKILL it if the thread that started it dies, so weed never outlives us. The
// starting goroutine keeps its OS thread locked until weed exits (see launch), because Pdeathsig follows that thread,
// not the process.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
