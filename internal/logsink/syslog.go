package logsink

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// Syslog severities (RFC 5424) and the facility every record is sent under.
const (
	sevErr     = 3
	sevWarning = 4
	sevInfo    = 6
	sevDebug   = 7

	facilityDaemon = 3 << 3
)

// severity is the syslog severity of an slog level.
func severity(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return sevDebug
	case l < slog.LevelWarn:
		return sevInfo
	case l < slog.LevelError:
		return sevWarning
	}
	return sevErr
}

// sendTimeout bounds how long one record may wait for the syslog daemon to take it: a
// stuck daemon must not stall the filesystem's callers, which log from their requests.
// A variable for the tests.
var sendTimeout = 2 * time.Second

// syslogConn sends records as datagrams to the local syslog socket, in the format of
// syslog(3): "<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE", which journald and rsyslog read
// the identifier and PID from.
type syslogConn struct {
	path, tag string
	pid       int

	mu      sync.Mutex
	conn    *net.UnixConn // nil after a failed redial
	dropped int           // records not sent since the last that was
	closed  bool
}

func dial(path string) (*net.UnixConn, error) {
	return net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
}

func dialSyslog(path, tag string) (*syslogConn, error) {
	c, err := dial(path)
	if err != nil {
		return nil, err
	}
	return &syslogConn{path: path, tag: tag, pid: os.Getpid(), conn: c}, nil
}

// writeRecord sends one record. If the send fails, it redials once (the daemon may have
// restarted) and tries again; if that fails too, or the daemon did not take the record
// within sendTimeout, the record is counted as dropped.
func (s *syslogConn) writeRecord(sev int, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if s.dropped > 0 {
		note := fmt.Appendf(nil, "%d log records could not be sent to syslog (%s) and were lost", s.dropped, s.path)
		if s.send(sevWarning, note) == nil {
			s.dropped = 0
		}
	}
	if err := s.send(sev, body); err != nil {
		s.dropped++
		return err
	}
	return nil
}

func (s *syslogConn) send(sev int, body []byte) error {
	msg := make([]byte, 0, 64+len(body))
	msg = append(msg, '<')
	msg = strconv.AppendInt(msg, int64(facilityDaemon|sev), 10)
	msg = append(msg, '>')
	msg = time.Now().AppendFormat(msg, time.Stamp)
	msg = append(msg, ' ')
	msg = append(msg, s.tag...)
	msg = append(msg, '[')
	msg = strconv.AppendInt(msg, int64(s.pid), 10)
	msg = append(msg, "]: "...)
	msg = append(msg, body...)

	var err error
	for try := 0; try < 2; try++ {
		if s.conn == nil || try > 0 {
			if err = s.redialLocked(); err != nil {
				return err
			}
		}
		s.conn.SetWriteDeadline(time.Now().Add(sendTimeout))
		if _, err = s.conn.Write(msg); err == nil {
			return nil
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return err // the daemon is there but slow: a second wait would only double the stall
		}
	}
	return err
}

func (s *syslogConn) redial() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	return s.redialLocked()
}

func (s *syslogConn) redialLocked() error {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	c, err := dial(s.path)
	if err != nil {
		return err
	}
	s.conn = c
	return nil
}

func (s *syslogConn) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
