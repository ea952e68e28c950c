package fs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// A bucket has no fixed size; report a large one, all free, so that `df` shows figures
// and tools that check free space before copying go ahead.
const (
	statfsBlockSize = 4096
	statfsBlocks    = 1 << 50 / statfsBlockSize // 1 PiB
	statfsFiles     = 1 << 32
)

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = statfsBlockSize
	out.Frsize = statfsBlockSize
	out.Blocks = statfsBlocks
	out.Bfree = statfsBlocks
	out.Bavail = statfsBlocks
	out.Files = statfsFiles
	out.Ffree = statfsFiles
	out.NameLen = maxNameLen
	return 0
}
