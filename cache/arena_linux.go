//go:build linux

package cache

import (
	"fmt"
	"syscall"
)

// madvDontDump is MADV_DONTDUMP (Linux 3.4): leave the range out of core dumps.
// The syscall package does not define it.
const madvDontDump = 16

// mapArena maps n bytes of anonymous private memory, outside the Go heap: the
// garbage collector never copies it, and it is zero until written. The mapping is
// excluded from core dumps and locked in RAM if RLIMIT_MEMLOCK (or CAP_IPC_LOCK)
// allows; arena.locked says whether it is.
func mapArena(n int) (*arena, error) {
	mem, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("cache: mapping %d bytes for the page cache: %w", n, err)
	}
	// Only a kernel older than 3.4 refuses this; the daemon disables core dumps
	// anyway (RLIMIT_CORE 0, not dumpable), so this is a second line of defence.
	_ = syscall.Madvise(mem, madvDontDump)
	a := &arena{mem: mem, unmap: syscall.Munmap}
	// mlock fails with ENOMEM or EPERM past RLIMIT_MEMLOCK: go on unlocked, the
	// caller learns it from Locked. munmap unlocks, so release needs no munlock.
	a.locked = syscall.Mlock(mem) == nil
	return a, nil
}
