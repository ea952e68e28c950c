// Package audit keeps the log of key usage that S3 does not keep for SSE-C (--audit-log):
// one JSON line per request that carried a key, with the time, the operation, the
// object, the key's fingerprint (never the key), the bytes, the outcome and the uid and
// pid of the process whose file operation caused it; and one line per mount, unmount,
// rotation or check (Event).
//
// The file is created 0600 and appended to; Reopen (on SIGHUP) opens the path again, for
// logrotate. A Log is safe for concurrent use; a nil *Log logs nothing.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
)

// Kinds of events besides requests (Event), as the "event" field says them. Request
// lines say "request".
const (
	KindRequest  = "request"
	KindMount    = "mount"
	KindUnmount  = "unmount"
	KindRotation = "rotation"
	KindCheck    = "check"
)

// Log is an open audit log.
type Log struct {
	path string

	mu      sync.Mutex
	f       *os.File // nil once closed
	onError func(error)
	failing bool // the last write failed: onError was told, and is not told again until one succeeds
	now     func() time.Time
}

var _ bucket.Observer = (*Log)(nil)

// Open opens (or creates) the audit log at path, mode 0600, for appending. An existing
// file is made 0600 too; a path that is not a regular file is refused.
func Open(path string) (*Log, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	return &Log{path: path, f: f, now: time.Now}, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOCTTY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the audit log: %w", err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err == nil && st.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening the audit log: %w", err)
	}
	return f, nil
}

// OnError sets a function told when a line cannot be written (a full disk, a closed
// log): once, and again only after a line was written since. It is called with the
// log's lock held: it must not use the Log.
func (l *Log) OnError(fn func(error)) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.onError = fn
	l.mu.Unlock()
}

// Reopen opens the log's path again and writes there from now on: after logrotate moved
// the file, on SIGHUP. If the path cannot be opened, the log goes on in the old file and
// the error says why.
func (l *Log) Reopen() error {
	if l == nil {
		return nil
	}
	f, err := openFile(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

// Close closes the log; lines after it are dropped (and told to OnError).
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	f := l.f
	l.f = nil
	l.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Close()
}

// requestLine is the line of one request, fields in this order.
type requestLine struct {
	Time       string  `json:"time"` // when the request was sent
	Event      string  `json:"event"`
	Op         string  `json:"op"`
	Object     string  `json:"object"`
	Source     string  `json:"source,omitempty"`     // a copy's source object
	Key        string  `json:"key,omitempty"`        // fingerprint of the key for object
	SourceKey  string  `json:"source_key,omitempty"` // fingerprint of the key of a copy's source
	OlderKey   bool    `json:"older_key,omitempty"`  // the key that read is not the current one
	Bytes      int64   `json:"bytes"`                // object data received or sent
	Outcome    string  `json:"outcome"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Retries    int     `json:"retries,omitempty"`
	UID        int64   `json:"uid"` // -1: no single process caused it (read-ahead, background)
	PID        int64   `json:"pid"`
}

// ObserveRequest writes the line of a request that carried a key (bucket.Observer);
// requests without one (listings, deletes, aborts) are not key usage and are left out.
func (l *Log) ObserveRequest(e bucket.RequestEvent) {
	if l == nil || !e.Keyed() {
		return
	}
	line := requestLine{
		Time:       e.Start.UTC().Format(time.RFC3339Nano),
		Event:      KindRequest,
		Op:         e.Op,
		Object:     e.Object,
		Source:     e.Source,
		Key:        e.KeyFingerprint,
		SourceKey:  e.SourceKeyFingerprint,
		OlderKey:   e.KeyFallback,
		Bytes:      e.BytesIn + e.BytesOut,
		Outcome:    e.Outcome,
		Status:     e.Status,
		DurationMS: float64(e.Duration.Microseconds()) / 1000,
		Retries:    e.Retries,
		UID:        -1,
		PID:        -1,
	}
	if e.Caller != nil {
		line.UID, line.PID = int64(e.Caller.UID), int64(e.Caller.PID)
	}
	b, err := json.Marshal(line)
	if err != nil { // not with these field types
		l.failed(err)
		return
	}
	l.write(b)
}

// Event writes a line of kind (KindMount, KindUnmount, KindRotation, KindCheck, ...)
// with fields, after "time" and "event" (fields of those names are left out). Fields
// must never hold key material: name keys by fingerprint (a keysrc.Key encodes as its
// fingerprint).
func (l *Log) Event(kind string, fields map[string]any) {
	if l == nil {
		return
	}
	head, _ := json.Marshal(struct {
		Time  string `json:"time"`
		Event string `json:"event"`
	}{l.now().UTC().Format(time.RFC3339Nano), kind})
	rest := make(map[string]any, len(fields))
	for k, v := range fields {
		if k != "time" && k != "event" {
			rest[k] = v
		}
	}
	if len(rest) > 0 {
		b, err := json.Marshal(rest)
		if err != nil {
			l.failed(fmt.Errorf("audit event %q: %w", kind, err))
			b, _ = json.Marshal(map[string]string{"fields_error": err.Error()})
		}
		head = append(head[:len(head)-1], ',')
		head = append(head, b[1:]...)
	}
	l.write(head)
}

// write appends line and a newline in one write.
func (l *Log) write(line []byte) {
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		l.failedLocked(os.ErrClosed)
		return
	}
	if _, err := l.f.Write(line); err != nil {
		l.failedLocked(err)
		return
	}
	l.failing = false
}

func (l *Log) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failedLocked(err)
}

func (l *Log) failedLocked(err error) {
	if l.failing {
		return
	}
	l.failing = true
	if l.onError != nil {
		l.onError(fmt.Errorf("writing the audit log %s: %w", l.path, err))
	}
}
