//go:build linux

package fs

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// kernelReadAheadKB is the kernel read-ahead set on the mount's backing device. The
// kernel offers FUSE only 128 KiB, so a sequential read reaches ssecfs as 128 KiB
// requests; with more, the kernel sends reads of up to 1 MiB (the mount's max read),
// eight times fewer round trips.
const kernelReadAheadKB = 4096

// raiseKernelReadAhead writes the mount's bdi read_ahead_kb. Only root may; for others
// it fails and the kernel's default stays.
func raiseKernelReadAhead(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	dev := uint64(st.Dev)
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(dev), unix.Minor(dev))
	return os.WriteFile(path, []byte(strconv.Itoa(kernelReadAheadKB)), 0)
}
