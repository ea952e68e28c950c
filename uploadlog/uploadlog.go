// Package uploadlog remembers, for one mount, which multipart uploads it has in
// progress, so that a later mount of the same bucket and prefix can abort the uploads a
// crash left open (kill -9, power loss) and only those: S3 shows no mark of who started
// an upload, and other tools' uploads must never be touched.
//
// A log is a small 0600 file in a 0700 directory (by default
// $XDG_STATE_HOME/ssecfs/uploads, else ~/.local/state/ssecfs/uploads), named by a hash of
// the bucket and prefix and the process ID, held under an exclusive flock while the mount
// lives. It holds upload IDs only, one per line with + when started and - when ended:
// no object name, no data, no key. A log whose lock is free belongs to a process that
// is gone.
package uploadlog

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Log is the running mount's own log.
type Log struct {
	mu    sync.Mutex
	f     *os.File
	live  map[string]bool
	ended int // lines of ended uploads since the file was last rewritten
	err   error
}

// compactAfter is how many ended uploads the file holds before it is rewritten with the
// live ones only.
const compactAfter = 1000

// DefaultDir is where logs are kept: $XDG_STATE_HOME/ssecfs/uploads, else
// ~/.local/state/ssecfs/uploads.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "ssecfs", "uploads"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "ssecfs", "uploads"), nil
}

// base names the logs of one bucket and prefix.
func base(bucket, prefix string) string {
	sum := sha256.Sum256([]byte(bucket + "\x00" + prefix))
	return hex.EncodeToString(sum[:8])
}

// Open makes this process's log for bucket and prefix in dir and locks it.
func Open(dir, bucket, prefix string) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload log directory: %w", err)
	}
	name := filepath.Join(dir, base(bucket, prefix)+"."+strconv.Itoa(os.Getpid())+".log")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("upload log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("upload log %s is locked by another process: %w", name, err)
	}
	return &Log{f: f, live: make(map[string]bool)}, nil
}

// Started records an upload begun.
func (l *Log) Started(id string) { l.note('+', id) }

// Ended records an upload completed or aborted.
func (l *Log) Ended(id string) { l.note('-', id) }

func (l *Log) note(op byte, id string) {
	if id == "" || strings.ContainsAny(id, "\n") {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if op == '+' {
		l.live[id] = true
	} else {
		if !l.live[id] {
			return
		}
		delete(l.live, id)
		l.ended++
	}
	if l.ended >= compactAfter {
		l.rewrite()
		return
	}
	if _, err := l.f.Write([]byte(string(op) + id + "\n")); err != nil && l.err == nil {
		l.err = err
	}
}

// rewrite replaces the file's lines with the live uploads. Called with l.mu held.
func (l *Log) rewrite() {
	var b strings.Builder
	for id := range l.live {
		b.WriteString("+" + id + "\n")
	}
	if err := l.f.Truncate(0); err == nil {
		_, err = l.f.WriteAt([]byte(b.String()), 0)
		if err == nil {
			_, err = l.f.Seek(int64(b.Len()), 0)
		}
		if err != nil && l.err == nil {
			l.err = err
		}
	}
	l.ended = 0
}

// Close ends the log at a clean unmount: removed when no upload is left open, else kept
// for the next mount to clean up. Its error is the first one writing the log, if any
// (the log then missed uploads), else that of closing or removing it.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	name := l.f.Name()
	keep := len(l.live) > 0
	err := l.f.Close()
	if !keep {
		if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	if l.err != nil {
		return l.err
	}
	return err
}

// Leftovers reads the logs of bucket and prefix in dir whose process is gone: the IDs
// of the uploads they left open, and the files, to Forget once those are aborted.
func Leftovers(dir, bucket, prefix string) (map[string]bool, []string, error) {
	names, err := filepath.Glob(filepath.Join(dir, base(bucket, prefix)+".*.log"))
	if err != nil {
		return nil, nil, err
	}
	ids := make(map[string]bool)
	var files []string
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		// Our own process's log, or another live mount's, is locked.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		open := make(map[string]bool)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if len(line) < 2 {
				continue
			}
			switch line[0] {
			case '+':
				open[line[1:]] = true
			case '-':
				delete(open, line[1:])
			}
		}
		f.Close()
		for id := range open {
			ids[id] = true
		}
		files = append(files, name)
	}
	return ids, files, nil
}

// Forget removes logs whose uploads have been dealt with.
func Forget(files []string) {
	for _, name := range files {
		os.Remove(name)
	}
}
