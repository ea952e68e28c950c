package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// readyEnv names the inherited descriptor on which a background child reports: log lines
// until the mount is live, then "ready" or "error<TAB>reason". The child's own checks are
// all bounded, and so is the parent's wait.
const readyEnv = "SSECFS_READY_FD"

// startupLimit bounds how long the parent waits for the child's verdict.
const startupLimit = 5 * time.Minute

// startBackground runs the mount in a detached child, `ssecfs args...` (a mount in the
// foreground), and returns once the mount is live (0) or has failed (1, with the reason
// on stderr). The child needs no terminal: it has no stdio, and its own session, so
// mount(8) and systemd can start it as well as a shell.
func startBackground(args []string) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs mount: cannot find own executable: %v\n", err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs mount: %v\n", err)
		return 1
	}
	cmd := exec.Command(exe, args...)
	// systemd takes notifications from the process it started only: the child must
	// not send them (a foreground mount does).
	cmd.Env = append(withoutEnv(os.Environ(), "NOTIFY_SOCKET"), readyEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	// No stdio: the child outlives this terminal. Setsid detaches it from the terminal's
	// signals (a Ctrl-C in the shell must not unmount).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs mount: starting the background process: %v\n", err)
		return 1
	}
	w.Close()
	timer := time.AfterFunc(startupLimit, func() {
		cmd.Process.Kill()
		r.Close()
	})
	defer timer.Stop()

	sc := bufio.NewScanner(r)
	for sc.Scan() {
		kind, text, _ := strings.Cut(sc.Text(), "\t")
		switch kind {
		case "log":
			fmt.Fprintln(os.Stderr, text)
		case "ready":
			cmd.Process.Release()
			return 0
		case "error":
			cmd.Wait()
			fmt.Fprintf(os.Stderr, "ssecfs mount: %s\n", text)
			return 1
		}
	}
	werr := cmd.Wait()
	fmt.Fprintf(os.Stderr, "ssecfs mount: the background process ended before mounting (%v); run with --foreground to see why\n", werr)
	return 1
}

// withoutEnv is env without the variable name.
func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// readyPipe is the child's end of the report to its parent; inactive in a plain
// foreground run.
type readyPipe struct {
	mu sync.Mutex
	f  *os.File
}

func openReadyPipe() *readyPipe {
	v := os.Getenv(readyEnv)
	os.Unsetenv(readyEnv)
	if v != "3" {
		return &readyPipe{}
	}
	return &readyPipe{f: os.NewFile(3, "ready-pipe")}
}

func (p *readyPipe) active() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.f != nil
}

// Write forwards log output to the parent until the verdict. It never fails: a parent
// that went away must not stop the logger.
func (p *readyPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			fmt.Fprintf(p.f, "log\t%s\n", line)
		}
	}
	return len(b), nil
}

func (p *readyPipe) ok() { p.finish("ready") }

func (p *readyPipe) fail(err error) {
	p.finish("error\t" + strings.ReplaceAll(err.Error(), "\n", " "))
}

func (p *readyPipe) finish(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return
	}
	fmt.Fprintln(p.f, line)
	p.f.Close()
	p.f = nil
}
