// Package sdnotify tells systemd how a Type=notify service is doing (sd_notify(3)):
// READY=1 once the mount is live, STOPPING=1 when it is going away.
//
// The service manager names its socket in NOTIFY_SOCKET: a path, or with a leading "@"
// a name in the abstract namespace. Without NOTIFY_SOCKET (not run by systemd, or not
// as Type=notify) every call does nothing and reports false.
//
// Only the service's main process may notify (systemd's default NotifyAccess=main), so
// cmd/ssecfs calls Ready and Stopping from a foreground mount
// (ExecStart=ssecfs mount --foreground ...): Ready right after the mount is live and
// logged, Stopping when the unmount begins (a signal) or, at the latest, when the
// server has returned.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Notify sends state (newline-separated VAR=value assignments, as "READY=1") to the
// socket in NOTIFY_SOCKET. It reports whether it was sent: false with a nil error when
// NOTIFY_SOCKET is unset.
func Notify(state string) (bool, error) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return false, nil
	}
	if !strings.HasPrefix(sock, "/") && !strings.HasPrefix(sock, "@") {
		// systemd 254 also hands out vsock: addresses, for virtual machines.
		return false, fmt.Errorf("NOTIFY_SOCKET %q: only a path or an @abstract name is supported", sock)
	}
	// A leading "@" is the abstract namespace: the net package turns it into a NUL.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("notifying systemd at %s: %w", sock, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("notifying systemd at %s: %w", sock, err)
	}
	return true, nil
}

// Ready tells systemd that start-up is finished: the mount is live.
func Ready() (bool, error) { return Notify("READY=1") }

// Stopping tells systemd that the service is shutting down: the unmount has begun.
func Stopping() (bool, error) { return Notify("STOPPING=1") }
