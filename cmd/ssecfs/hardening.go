package main

import (
	"log/slog"
	"syscall"
)

// prSetDumpable is PR_SET_DUMPABLE from <linux/prctl.h>.
const prSetDumpable = 4

// disableCoreDumps keeps key material out of core files: a crash of a process that holds
// keys must not write them to disk. Marking the process non-dumpable also stops other
// processes of the same user from reading its memory through ptrace or /proc.
func disableCoreDumps(logger *slog.Logger) {
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		logger.Warn("could not disable core dumps", "err", err)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); errno != 0 {
		logger.Warn("could not mark the process non-dumpable", "err", errno)
	}
}
