// Package logsink decides where a mount's log goes, so that it always reaches someone,
// and gives the slog.Handler that writes there.
//
// Open chooses, in this order:
//
//   - Options.File (--log-file): appended to, created 0600. Reopen closes it and opens the
//     same path again, so that after logrotate moves it away and sends SIGHUP, new lines go
//     to the new file and the moved one keeps the old ones.
//   - in the foreground (Options.Background false): stderr. When stderr is a journald
//     stream (systemd sets JOURNAL_STREAM to its device and inode, as under a
//     Type=notify unit), each line carries its syslog priority as a "<N>" prefix and no
//     time or level, which the journal keeps itself.
//   - in the background: syslog, as datagrams to /dev/log under the identifier "ssecfs"
//     (facility daemon), each record with the priority of its level: debug LOG_DEBUG,
//     info LOG_INFO, warn LOG_WARNING, error LOG_ERR. journald and rsyslog both listen
//     there; `journalctl -t ssecfs` shows the lines.
//   - in the background when /dev/log is missing or cannot be dialled (a container, a
//     machine without a syslog daemon): the file mount-NAME.log in $XDG_STATE_HOME/ssecfs
//     (default ~/.local/state/ssecfs; the directory made 0700, the file 0600), where NAME
//     is Options.Name (the mount point) with "/" turned into "-". A later mount of the same
//     mount point appends to the same file. Fallback says why syslog was not used, and
//     Where names the file, for the message printed at mount.
//
// Nothing is thrown away: when none of these can be opened, Open fails. A syslog record
// that cannot be sent (the daemon restarted: redialled once; or it did not take the
// datagram within two seconds: dropped rather than stalling the filesystem) is counted,
// and the count is logged just before the next record that gets through.
//
// Handler gives the text or json handler for the destination. Keys must never reach it:
// callers log keys only as fingerprints.
//
// # Use from cmd/ssecfs
//
//	sink, err := logsink.Open(logsink.Options{File: c.logFile, Background: ready.active(), Name: c.mountpoint})
//	defer sink.Close()
//	h, err := sink.Handler(c.logFormat, level)   // --log-format text|json
//	logger := slog.New(h)
//	// on SIGHUP: sink.Reopen()
package logsink

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DefaultSyslogPath is the local syslog socket.
const DefaultSyslogPath = "/dev/log"

// Tag is the syslog identifier of every record: journalctl -t ssecfs.
const Tag = "ssecfs"

// Options say where the log may go. The zero value logs to stderr.
type Options struct {
	// File is --log-file: when set, logs are appended there whatever else is set.
	File string
	// Background is true in a background mount, which has no terminal: then, without
	// File, logs go to syslog, else to a file under StateDir. In the foreground they go
	// to Stderr.
	Background bool
	// Name names the fallback file: the mount point.
	Name string

	// SyslogPath is the syslog socket; DefaultSyslogPath when empty.
	SyslogPath string
	// StateDir is the fallback file's directory; $XDG_STATE_HOME/ssecfs, else
	// ~/.local/state/ssecfs, when empty.
	StateDir string
	// Stderr is the foreground destination; os.Stderr when nil. It is a journald stream
	// when it is an *os.File whose device and inode are those in JOURNAL_STREAM.
	Stderr io.Writer
}

// Kind is the kind of destination a Sink writes to.
type Kind int

const (
	// Stderr: plain lines on standard error.
	Stderr Kind = iota
	// Journal: standard error is a journald stream; lines carry a "<N>" priority prefix.
	Journal
	// File: a file, either --log-file or the fallback under the state directory.
	File
	// Syslog: datagrams to the syslog socket.
	Syslog
)

func (k Kind) String() string {
	switch k {
	case Stderr:
		return "stderr"
	case Journal:
		return "journal"
	case File:
		return "file"
	case Syslog:
		return "syslog"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Sink is an open log destination. Its methods are safe for concurrent use.
type Sink struct {
	kind     Kind
	where    string
	fallback error

	file   *reopenFile // File
	syslog *syslogConn // Syslog
	stderr io.Writer   // Stderr, Journal
}

// Open opens the destination that opts choose (see the package comment).
func Open(opts Options) (*Sink, error) {
	if opts.File != "" {
		f, err := openReopenable(opts.File)
		if err != nil {
			return nil, fmt.Errorf("--log-file: %w", err)
		}
		return &Sink{kind: File, where: opts.File, file: f}, nil
	}
	if !opts.Background {
		w := opts.Stderr
		if w == nil {
			w = os.Stderr
		}
		if isJournalStream(w) {
			return &Sink{kind: Journal, where: "the journal (stderr)", stderr: w}, nil
		}
		return &Sink{kind: Stderr, where: "stderr", stderr: w}, nil
	}

	path := opts.SyslogPath
	if path == "" {
		path = DefaultSyslogPath
	}
	sl, serr := dialSyslog(path, Tag)
	if serr == nil {
		return &Sink{kind: Syslog, where: "syslog (" + path + ") as " + Tag, syslog: sl}, nil
	}
	dir := opts.StateDir
	if dir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return nil, fmt.Errorf("no syslog (%v) and no state directory for a log file (%v): give --log-file", serr, err)
		}
		dir = d
	}
	name, err := fallbackFile(dir, opts.Name)
	if err != nil {
		return nil, fmt.Errorf("no syslog (%v) and no log file (%v): give --log-file", serr, err)
	}
	f, err := openReopenable(name)
	if err == nil {
		err = f.chmod(0o600) // ours: never wider, whatever an older file had
	}
	if err != nil {
		if f != nil {
			f.close()
		}
		return nil, fmt.Errorf("no syslog (%v) and no log file (%v): give --log-file", serr, err)
	}
	return &Sink{kind: File, where: name, fallback: serr, file: f}, nil
}

// Kind says what kind of destination s writes to.
func (s *Sink) Kind() Kind { return s.kind }

// Where names the destination for a person: the file's path, "syslog (/dev/log) as
// ssecfs", "stderr" or "the journal (stderr)".
func (s *Sink) Where() string { return s.where }

// Fallback is why syslog was not used when s is the fallback file under the state
// directory, and nil otherwise.
func (s *Sink) Fallback() error { return s.fallback }

// Reopen closes a file and opens the same path again (for logrotate: after the file was
// moved, new lines go to a new file at the path), or redials the syslog socket. If the
// path cannot be opened, lines keep going to the old file and the error says why. It is
// a no-op for stderr.
func (s *Sink) Reopen() error {
	switch {
	case s.file != nil:
		return s.file.reopen()
	case s.syslog != nil:
		return s.syslog.redial()
	}
	return nil
}

// Close closes the file or socket. Stderr is left open. Records handled after Close are
// lost.
func (s *Sink) Close() error {
	switch {
	case s.file != nil:
		return s.file.close()
	case s.syslog != nil:
		return s.syslog.close()
	}
	return nil
}

// DefaultStateDir is $XDG_STATE_HOME/ssecfs, else ~/.local/state/ssecfs: where the
// fallback log file goes (and, in package uploadlog, the logs of uploads).
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "ssecfs"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	if home == "" {
		return "", errors.New("$HOME is empty")
	}
	return filepath.Join(home, ".local", "state", "ssecfs"), nil
}

// fallbackFile makes dir (0700) and names the fallback log file in it.
func fallbackFile(dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(dir, "mount-"+sanitize(name)+".log"), nil
}

// maxNameLen bounds the name part of a fallback file, well under the 255 bytes of a file
// name.
const maxNameLen = 100

// sanitize turns a mount point into a file name part: "/home/u/s3" is "home-u-s3", bytes
// other than letters, digits, ".", "_" and "-" become "_", and a long name keeps its end.
func sanitize(name string) string {
	name = strings.Trim(filepath.Clean("/"+name), "/")
	if name == "" {
		return "root"
	}
	b := []byte(name)
	for i, c := range b {
		switch {
		case c == '/':
			b[i] = '-'
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	if len(b) > maxNameLen {
		b = b[len(b)-maxNameLen:]
	}
	return string(b)
}
