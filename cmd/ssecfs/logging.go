package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/ssecfs/ssecfs/internal/logsink"
)

// newLogger logs where logsink chooses: --log-file if given; else stderr in the
// foreground, and syslog (or a 0600 file in the state directory where there is no
// /dev/log) in the background. A background child also sends its log lines to the
// parent until the mount is live, so warnings found while checking reach the user's
// terminal. Nothing logged ever holds key material: keys appear only as fingerprints.
// The sink is returned for SIGHUP (Reopen) and Close.
func newLogger(c *mountConfig, ready *readyPipe) (*slog.Logger, *logsink.Sink, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(c.logLevel))); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	name := c.mountpoint
	if abs, err := filepath.Abs(name); err == nil {
		name = abs
	}
	sink, err := logsink.Open(logsink.Options{File: c.logFile, Background: ready.active(), Name: name})
	if err != nil {
		if c.logFile != "" {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		return nil, nil, fmt.Errorf("no place to log to (%w): give --log-file", err)
	}
	h, err := sink.Handler(c.logFormat, level)
	if err != nil {
		sink.Close()
		return nil, nil, err
	}
	if ready.active() {
		h = slog.NewMultiHandler(h, slog.NewTextHandler(ready, &slog.HandlerOptions{Level: level}))
	}
	logger := slog.New(h)
	if err := sink.Fallback(); err != nil {
		logger.Warn("no syslog here; logging to a file", "file", sink.Where(), "err", err)
	}
	return logger, sink, nil
}
