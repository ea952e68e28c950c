package fs

import (
	"github.com/hanwen/go-fuse/v2/fuse"
)

// ownerAndRoot is libfuse's allow_root for go-fuse, which has none: the kernel is told
// allow_other, and this refuses with EACCES every request of a user other than the one
// who mounted and root that looks up, opens, reads the attributes of or changes
// anything. As in libfuse, requests on handles already open (read, write, fsync,
// readdir, release) pass: whoever was handed an open file may use it.
type ownerAndRoot struct {
	fuse.RawFileSystem
	owner uint32
}

func (o *ownerAndRoot) denied(h *fuse.InHeader) bool {
	return h.Uid != o.owner && h.Uid != 0
}

func (o *ownerAndRoot) Lookup(c <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	if o.denied(h) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Lookup(c, h, name, out)
}

func (o *ownerAndRoot) GetAttr(c <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.GetAttr(c, in, out)
}

func (o *ownerAndRoot) SetAttr(c <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.SetAttr(c, in, out)
}

func (o *ownerAndRoot) Mknod(c <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Mknod(c, in, name, out)
}

func (o *ownerAndRoot) Mkdir(c <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Mkdir(c, in, name, out)
}

func (o *ownerAndRoot) Unlink(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if o.denied(h) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Unlink(c, h, name)
}

func (o *ownerAndRoot) Rmdir(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if o.denied(h) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Rmdir(c, h, name)
}

func (o *ownerAndRoot) Rename(c <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Rename(c, in, oldName, newName)
}

func (o *ownerAndRoot) Link(c <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Link(c, in, name, out)
}

func (o *ownerAndRoot) Symlink(c <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	if o.denied(h) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Symlink(c, h, target, name, out)
}

func (o *ownerAndRoot) Readlink(c <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	if o.denied(h) {
		return nil, fuse.EACCES
	}
	return o.RawFileSystem.Readlink(c, h)
}

func (o *ownerAndRoot) Access(c <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Access(c, in)
}

func (o *ownerAndRoot) GetXAttr(c <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	if o.denied(h) {
		return 0, fuse.EACCES
	}
	return o.RawFileSystem.GetXAttr(c, h, attr, dest)
}

func (o *ownerAndRoot) ListXAttr(c <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	if o.denied(h) {
		return 0, fuse.EACCES
	}
	return o.RawFileSystem.ListXAttr(c, h, dest)
}

func (o *ownerAndRoot) SetXAttr(c <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.SetXAttr(c, in, attr, data)
}

func (o *ownerAndRoot) RemoveXAttr(c <-chan struct{}, h *fuse.InHeader, attr string) fuse.Status {
	if o.denied(h) {
		return fuse.EACCES
	}
	return o.RawFileSystem.RemoveXAttr(c, h, attr)
}

func (o *ownerAndRoot) Create(c <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Create(c, in, name, out)
}

func (o *ownerAndRoot) Tmpfile(c <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Tmpfile(c, in, out)
}

func (o *ownerAndRoot) Open(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Open(c, in, out)
}

func (o *ownerAndRoot) Lseek(c <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Lseek(c, in, out)
}

func (o *ownerAndRoot) GetLk(c <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.GetLk(c, in, out)
}

func (o *ownerAndRoot) SetLk(c <-chan struct{}, in *fuse.LkIn) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.SetLk(c, in)
}

func (o *ownerAndRoot) SetLkw(c <-chan struct{}, in *fuse.LkIn) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.SetLkw(c, in)
}

func (o *ownerAndRoot) CopyFileRange(c <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	if o.denied(&in.InHeader) {
		return 0, fuse.EACCES
	}
	return o.RawFileSystem.CopyFileRange(c, in)
}

func (o *ownerAndRoot) Ioctl(c <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Ioctl(c, in, inbuf, out, outbuf)
}

func (o *ownerAndRoot) Flush(c <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Flush(c, in)
}

func (o *ownerAndRoot) Fallocate(c <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Fallocate(c, in)
}

func (o *ownerAndRoot) OpenDir(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.OpenDir(c, in, out)
}

func (o *ownerAndRoot) StatFs(c <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	if o.denied(h) {
		return fuse.EACCES
	}
	return o.RawFileSystem.StatFs(c, h, out)
}

func (o *ownerAndRoot) Statx(c <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	if o.denied(&in.InHeader) {
		return fuse.EACCES
	}
	return o.RawFileSystem.Statx(c, in, out)
}
