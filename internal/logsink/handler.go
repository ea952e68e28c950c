package logsink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// The formats of --log-format; "" is FormatText.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// CheckFormat refuses a --log-format other than text or json, naming it.
func CheckFormat(format string) error {
	switch format {
	case "", FormatText, FormatJSON:
		return nil
	}
	return fmt.Errorf("--log-format %q: want text or json", format)
}

// Handler is a handler of records at level or above, in format (text, as slog's
// TextHandler writes it, or json), written to s.
//
// To a file or plain stderr each record is one line with its time and level. To syslog
// or a journald stream, each record goes with the priority of its level, and its text
// has no time or level, which the journal and syslog add: in text, the message and then
// the attributes ("mounted bucket=b mountpoint=/mnt"); in json, the object without the
// "time" and "level" keys.
func (s *Sink) Handler(format string, level slog.Leveler) (slog.Handler, error) {
	if err := CheckFormat(format); err != nil {
		return nil, err
	}
	switch s.kind {
	case File:
		return newHandler(format, s.file, level, false), nil
	case Journal:
		return newLeveled(format, level, &journalStream{w: s.stderr}), nil
	case Syslog:
		return newLeveled(format, level, s.syslog), nil
	}
	return newHandler(format, s.stderr, level, false), nil
}

func newHandler(format string, w io.Writer, level slog.Leveler, bare bool) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if bare {
		opts.ReplaceAttr = dropTimeAndLevel
	}
	if format == FormatJSON {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

func dropTimeAndLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
		return slog.Attr{}
	}
	return a
}

// recordWriter takes one record's text and the severity to send it with.
type recordWriter interface {
	writeRecord(sev int, body []byte) error
}

// leveled sends each record with the severity of its level. slog's handlers write a
// record with one Write to a writer fixed when they are made, so there is one handler
// per severity, each writing to a writer that knows it.
type leveled struct {
	hs [4]slog.Handler // by slot
}

var severities = [4]int{sevDebug, sevInfo, sevWarning, sevErr}

func slot(l slog.Level) int {
	switch severity(l) {
	case sevDebug:
		return 0
	case sevInfo:
		return 1
	case sevWarning:
		return 2
	}
	return 3
}

func newLeveled(format string, level slog.Leveler, out recordWriter) *leveled {
	l := &leveled{}
	for i, sev := range severities {
		l.hs[i] = newHandler(format, &sevWriter{out: out, sev: sev, text: format != FormatJSON}, level, true)
	}
	return l
}

func (l *leveled) Enabled(ctx context.Context, level slog.Level) bool {
	return l.hs[slot(level)].Enabled(ctx, level)
}

func (l *leveled) Handle(ctx context.Context, r slog.Record) error {
	return l.hs[slot(r.Level)].Handle(ctx, r)
}

func (l *leveled) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &leveled{}
	for i, h := range l.hs {
		n.hs[i] = h.WithAttrs(attrs)
	}
	return n
}

func (l *leveled) WithGroup(name string) slog.Handler {
	n := &leveled{}
	for i, h := range l.hs {
		n.hs[i] = h.WithGroup(name)
	}
	return n
}

// sevWriter is the writer of one severity's handler.
type sevWriter struct {
	out  recordWriter
	sev  int
	text bool
}

func (w *sevWriter) Write(p []byte) (int, error) {
	body := bytes.TrimSuffix(p, []byte("\n"))
	if w.text {
		body = plainMessage(body)
	}
	if err := w.out.writeRecord(w.sev, body); err != nil {
		return 0, err
	}
	return len(p), nil
}

// plainMessage turns a text record without time and level, `msg="a b" k=v`, into
// `a b k=v`. A message that would hold a line break, another control character or
// invalid UTF-8 once unquoted stays quoted, as does anything not in that shape.
func plainMessage(body []byte) []byte {
	rest, ok := bytes.CutPrefix(body, []byte("msg="))
	if !ok {
		return body
	}
	var msg string
	if len(rest) > 0 && rest[0] == '"' {
		q, err := strconv.QuotedPrefix(string(rest))
		if err != nil {
			return body
		}
		if msg, err = strconv.Unquote(q); err != nil {
			return body
		}
		if !utf8.ValidString(msg) {
			return body
		}
		for _, r := range msg {
			if unicode.IsControl(r) {
				return body
			}
		}
		rest = rest[len(q):]
	} else {
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		msg, rest = string(rest[:end]), rest[end:]
	}
	if msg == "" {
		return bytes.TrimPrefix(rest, []byte(" "))
	}
	out := make([]byte, 0, len(msg)+len(rest))
	out = append(out, msg...)
	return append(out, rest...)
}
