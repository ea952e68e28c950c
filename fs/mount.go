package fs

import (
	"log"
	"os"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// MountOptions are the kernel-facing choices of a mount.
type MountOptions struct {
	FsName     string // shown in mount(8) and df, e.g. "ssecfs:bucket/prefix"
	AllowOther bool
	// AllowRoot lets root use the mount besides the user who mounted it (libfuse's
	// allow_root, which the kernel does not know): the kernel is told allow_other and
	// the requests of other users are refused here with EACCES.
	AllowRoot bool
	ReadOnly  bool
	// Options are further kernel mount options: nodev, nosuid, noexec.
	Options []string
	Debug   bool // log every FUSE request (names, never data)
	// Logger receives go-fuse's own messages (and the Debug trace); nil: stderr.
	Logger *log.Logger
}

// defaultKernelTTL is how long the kernel may keep names and attributes without asking.
const defaultKernelTTL = time.Second

// kernelTTL is how long the kernel may keep names and attributes: none when caching is
// off (a negative StatTTL).
func (f *FS) kernelTTL() time.Duration {
	if f.opts.StatTTL < 0 {
		return 0
	}
	return defaultKernelTTL
}

// Mount mounts f at dir and returns the running server; Wait on it, Unmount to end.
// As root it mounts with mount(2) itself, so fusermount3 is needed only by other users.
func Mount(dir string, f *FS, mo MountOptions) (*fuse.Server, error) {
	opts := f.nodeOptions(mo)
	raw := gofs.NewNodeFS(f.Root(), opts)
	if mo.AllowRoot {
		raw = &ownerAndRoot{RawFileSystem: raw, owner: uint32(os.Getuid())}
	}
	server, err := fuse.NewServer(f.observeRaw(raw), dir, &opts.MountOptions) // outermost: sees every answer
	if err != nil {
		return nil, err
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return nil, err
	}
	if err := raiseKernelReadAhead(dir); err != nil {
		f.log.Debug("kept the kernel's read-ahead for the mount", "err", err)
	}
	return server, nil
}

// nodeOptions are go-fuse's options for the tree and the kernel mount.
func (f *FS) nodeOptions(mo MountOptions) *gofs.Options {
	ttl := f.kernelTTL()
	opts := []string{"default_permissions"}
	if mo.ReadOnly {
		opts = append(opts, "ro")
	}
	opts = append(opts, mo.Options...)
	logger := mo.Logger
	if logger == nil {
		logger = log.New(os.Stderr, "fuse: ", 0)
	}
	return &gofs.Options{
		EntryTimeout:    &ttl,
		AttrTimeout:     &ttl,
		NegativeTimeout: &ttl,
		// No UID or GID: go-fuse would put them in place of every owner 0, hiding
		// objects owned by root (x-amz-meta-uid=0). The tree fills every owner itself.
		Logger: logger,
		MountOptions: fuse.MountOptions{
			FsName:     mo.FsName,
			Name:       "ssecfs",
			AllowOther: mo.AllowOther || mo.AllowRoot,
			MaxWrite:   1 << 20,
			// The kernel asks for security.capability before every write; answer
			// it (and the ACL names) without a round trip to the tree.
			IgnoreSecurityLabels: true,
			// O_TRUNC comes with the open instead of as a truncate before it: the
			// file is cut when its writer opens it, not first saved empty, and the
			// kernel never holds the old size while the cut is on its way.
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC,
			DirectMount:       os.Geteuid() == 0,
			Options:           opts,
			Debug:             mo.Debug,
			Logger:            logger,
		},
	}
}
