package keysrc

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// killGroup kills every process of the process group pgid (a key command and what
// it started). It reports os.ErrProcessDone when none is left.
func killGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// onForegroundTerminal reports whether f is a terminal whose foreground process group
// is ours: a command we start there in a group of its own needs the terminal handed
// over to read from it.
func onForegroundTerminal(f *os.File) bool {
	pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == syscall.Getpgrp()
}

// takeTerminalBack makes our process group the foreground of terminal f again after a
// command held it. Doing so from a background group raises SIGTTOU, which would stop
// us, so it is ignored meanwhile.
func takeTerminalBack(f *os.File) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	unix.IoctlSetPointerInt(int(f.Fd()), unix.TIOCSPGRP, syscall.Getpgrp())
}
