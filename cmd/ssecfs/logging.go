package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// newLogger logs to --log-file if given, else to stderr; a background child also sends
// its log lines to the parent until the mount is live, so warnings found while checking
// reach the user's terminal. Nothing logged ever holds key material: keys appear only
// as fingerprints.
func newLogger(c *mountConfig, ready *readyPipe) (*slog.Logger, func(), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(c.logLevel))); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	var out io.Writer = os.Stderr
	closeLog := func() {}
	if c.logFile != "" {
		f, err := os.OpenFile(c.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		out, closeLog = f, func() { f.Close() }
	}
	if ready.active() {
		if c.logFile == "" {
			out = io.Discard // stderr is /dev/null in the background
		}
		out = io.MultiWriter(ready, out)
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})), closeLog, nil
}
