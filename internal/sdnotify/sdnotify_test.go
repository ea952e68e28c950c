package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func next(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading the notify socket: %v", err)
	}
	return string(buf[:n])
}

func check(t *testing.T, c *net.UnixConn) {
	t.Helper()
	for _, step := range []struct {
		f    func() (bool, error)
		want string
	}{
		{Ready, "READY=1"},
		{func() (bool, error) { return Notify("STATUS=mounted b at /mnt\nREADY=1") }, "STATUS=mounted b at /mnt\nREADY=1"},
		{Stopping, "STOPPING=1"},
	} {
		sent, err := step.f()
		if !sent || err != nil {
			t.Fatalf("sending %q: %v, %v", step.want, sent, err)
		}
		if got := next(t, c); got != step.want {
			t.Errorf("systemd got %q, want %q", got, step.want)
		}
	}
}

func TestPathSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdnotify") // short: sun_path holds 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "notify")
	c := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	check(t, c)
}

func TestAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("@ssecfs-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := listen(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	check(t, c)
}

func TestUnsetIsNoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	if sent, err := Ready(); sent || err != nil {
		t.Errorf("Ready() without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
	}
}

func TestErrors(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody"))
	if sent, err := Ready(); sent || err == nil {
		t.Errorf("Ready() to a missing socket = %v, %v; want an error", sent, err)
	}
	t.Setenv("NOTIFY_SOCKET", "vsock:2:1234")
	if sent, err := Ready(); sent || err == nil {
		t.Errorf("Ready() to a vsock address = %v, %v; want an error", sent, err)
	}
}
