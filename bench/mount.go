package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ssecfs/ssecfs/integration/mountinfo"
)

const (
	mountTimeout   = 3 * time.Minute  // a mount command, or a peer, until the mount is live
	unmountTimeout = 60 * time.Second // umount retries (EBUSY), then waiting for the daemon to exit
)

// mount is one live FUSE mount of a tool.
type mount struct {
	tool    string
	dir     string
	pid     int           // the process serving the mount (0 if not found)
	exited  chan struct{} // closed when our child (a peer run in the foreground) has exited; nil for ssecfs
	logFile string
	after   func() // run after the unmount (e.g. removing rclone's cache directory)
}

// mounts are the live mounts, so that an interrupted bench can take them all down.
type mountSet struct {
	mu  sync.Mutex
	set map[*mount]bool
}

func (s *mountSet) add(m *mount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[*mount]bool{}
	}
	s.set[m] = true
}

func (s *mountSet) remove(m *mount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.set, m)
}

// unmountAll takes down every live mount, at once and lazily if need be (cleanup after a signal or a timeout).
func (s *mountSet) unmountAll() {
	s.mu.Lock()
	var all []*mount
	for m := range s.set {
		all = append(all, m)
	}
	s.mu.Unlock()
	for _, m := range all {
		m.kill()
		_ = m.unmount()
		s.remove(m)
	}
}

// kill ends the mount's process at once and detaches the mount, so that anything blocked on it returns.
func (m *mount) kill() {
	if m.pid > 0 {
		_ = syscall.Kill(m.pid, syscall.SIGKILL)
	}
	if isMounted(m.dir) {
		_ = syscall.Unmount(m.dir, syscall.MNT_DETACH)
	}
}

// unmount unmounts (retrying while busy), then waits until the serving process has exited, killing it if it does not
// in time. The serving process exiting is what tells that a peer's pending uploads are done or abandoned.
func (m *mount) unmount() error {
	var err error
	deadline := time.Now().Add(unmountTimeout)
	for isMounted(m.dir) {
		err = syscall.Unmount(m.dir, 0)
		if err == nil || !isMounted(m.dir) {
			err = nil
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Unmount(m.dir, syscall.MNT_DETACH)
			err = fmt.Errorf("unmounting %s: %v (detached it lazily)", m.dir, err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !m.waitExit(time.Until(deadline) + 5*time.Second) {
		if m.pid > 0 {
			_ = syscall.Kill(m.pid, syscall.SIGKILL)
		}
		m.waitExit(10 * time.Second)
		if err == nil {
			err = fmt.Errorf("%s (pid %d) did not exit after unmount; killed it", m.tool, m.pid)
		}
	}
	if m.after != nil {
		m.after()
		m.after = nil
	}
	_ = os.Remove(m.dir)
	return err
}

// waitExit waits until the mount's process is gone, at most d.
func (m *mount) waitExit(d time.Duration) bool {
	if m.exited != nil {
		select {
		case <-m.exited:
			return true
		case <-time.After(d):
			return false
		}
	}
	if m.pid <= 0 {
		return true
	}
	deadline := time.Now().Add(d)
	for !processGone(m.pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// peakRSS is the process's VmHWM in bytes (0 if unknown).
func (m *mount) peakRSS() int64 {
	if m.pid <= 0 {
		return 0
	}
	return vmHWM(m.pid)
}

// isMounted reports whether dir is a mount point.
func isMounted(dir string) bool { return mountinfo.IsMounted(dir) }

// target is where a tool mounts: a bucket, reached directly or through the counting proxy.
type target struct {
	bucket   string
	endpoint string
	caFile   string
	proxied  bool
}

// cleanEnv is our environment without AWS settings the machine may carry.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") && !strings.HasPrefix(e, "RCLONE_") && !strings.HasPrefix(e, "CURL_CA_BUNDLE=") {
			env = append(env, e)
		}
	}
	return env
}
