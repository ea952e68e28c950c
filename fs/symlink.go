package fs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// symlinkNode is a symbolic link stored as s3fs stores it: an object whose mode has the
// S_IFLNK bits and whose (encrypted) body is the target.
type symlinkNode struct {
	gofs.Inode
	fsys *FS

	mu     sync.Mutex
	key    string
	attrs  fileAttrs
	target string // "" until read
}

var (
	_ gofs.NodeReadlinker = (*symlinkNode)(nil)
	_ gofs.NodeGetattrer  = (*symlinkNode)(nil)
)

// maxLinkTarget bounds what is read as a link's target (PATH_MAX).
const maxLinkTarget = 4096

func (l *symlinkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	l.mu.Lock()
	target, key, etag, size := l.target, l.key, l.attrs.etag, l.attrs.size
	l.mu.Unlock()
	if target != "" {
		return []byte(target), 0
	}
	body, err := l.fsys.store.ReadRange(context.WithoutCancel(ctx), key, etag, 0, min(max(size, 1), maxLinkTarget))
	if err != nil {
		return nil, l.fsys.errno("readlink", key, err)
	}
	l.mu.Lock()
	l.target = string(body)
	l.mu.Unlock()
	return body, 0
}

func (l *symlinkNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attrs.fill(&out.Attr)
	out.Mode = syscall.S_IFLNK | 0o777
	return 0
}

// Setattr accepts changes of owner and time (as tar and rsync make), which a link's
// object does not keep apart from its target.
func (l *symlinkNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if l.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	return l.Getattr(ctx, fh, out)
}
