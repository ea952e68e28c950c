package s3server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildTimeout bounds one run of scripts/build-weed.sh (a cold build takes about five minutes on two cores).
const buildTimeout = 30 * time.Minute

var (
	weedMu   sync.Mutex
	weedPath string // cached after the first success; failures are not cached
)

// WeedBinary returns the path of the cached SeaweedFS "weed" binary, building it with scripts/build-weed.sh (found by
// walking up from the current directory to the directory holding go.mod) if it is missing. The build's progress goes to
// stderr. If SSECFS_WEED is set, it names the binary to use instead and nothing is built.
//
// Concurrent callers, in this process or in other processes (go test runs packages in parallel), wait on a file lock
// in the cache directory, so only one of them builds.
func WeedBinary() (string, error) {
	weedMu.Lock()
	defer weedMu.Unlock()
	if weedPath != "" {
		return weedPath, nil
	}
	if p := os.Getenv("SSECFS_WEED"); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("s3server: SSECFS_WEED=%s: %w", p, err)
		}
		weedPath = p
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "scripts", "build-weed.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("s3server: cannot build weed: %w", err)
	}

	unlock, err := lockBuild()
	if err != nil {
		return "", err
	}
	defer unlock()

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = root
	cmd.Stdout = &stdout
	// Progress goes to our stderr (a cold build is long and should not look like a hang) and into the error message.
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", buildTimeout)
		}
		return "", fmt.Errorf("s3server: building SeaweedFS with %s failed: %v\n%s", script, err, tail(stderr.String(), 30))
	}
	p := strings.TrimSpace(lastLine(stdout.String()))
	if p == "" {
		return "", fmt.Errorf("s3server: %s printed no binary path\n%s", script, tail(stderr.String(), 30))
	}
	if err := checkExecutable(p); err != nil {
		return "", fmt.Errorf("s3server: %s printed %q: %w", script, p, err)
	}
	weedPath = p
	return p, nil
}

// lockBuild takes an exclusive flock on a file in the weed cache directory, so parallel test processes do not run two
// builds into the same temporary file. The wait is bounded by buildTimeout.
func lockBuild() (func(), error) {
	cache := os.Getenv("SSECFS_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("s3server: locating the weed cache: %w", err)
		}
		cache = filepath.Join(home, ".cache", "ssecfs")
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(cache, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	deadline := time.Now().Add(buildTimeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("s3server: locking %s: %w", f.Name(), err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("s3server: another weed build held %s for more than %v", f.Name(), buildTimeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// moduleRoot walks up from the current directory to the first directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("s3server: no go.mod in %s or any parent; cannot find scripts/build-weed.sh", dir)
		}
		d = parent
	}
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("not an executable file")
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
