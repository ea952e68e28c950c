package logsink

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// isJournalStream says whether w is standard error connected to journald: systemd sets
// JOURNAL_STREAM to "DEVICE:INODE" of the stream it gave the service, and a descriptor
// with those numbers is that stream (see systemd.exec(5)).
func isJournalStream(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" {
		return false
	}
	var dev, ino uint64
	if n, err := fmt.Sscanf(v, "%d:%d", &dev, &ino); n != 2 || err != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

// journalStream writes records to a journald stream, one line each with its severity as
// a "<N>" prefix, which journald takes as the line's priority.
type journalStream struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *journalStream) writeRecord(sev int, body []byte) error {
	line := make([]byte, 0, len(body)+4)
	line = append(line, '<')
	line = strconv.AppendInt(line, int64(sev), 10)
	line = append(line, '>')
	line = append(line, body...)
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err := j.w.Write(line)
	return err
}
