package keysrc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// shortCommandTimeout sets commandTimeout to d for the test.
func shortCommandTimeout(t *testing.T, d time.Duration) {
	old := commandTimeout
	commandTimeout = d
	t.Cleanup(func() { commandTimeout = old })
}

// uniqueSleep is a sleep argument no other process on the machine has, e.g.
// "7123.004711", to find the process in /proc.
func uniqueSleep() string {
	return fmt.Sprintf("%d.%06d", 5000+rand.IntN(5000), rand.IntN(1e6))
}

// pidsWithArg lists the processes whose argument list contains arg.
func pidsWithArg(arg string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if strings.Contains(a, arg) {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// requireGone fails unless every process with one of these arguments is gone within a
// short while (a killed process may take a moment to be reaped). It kills, by pid, any
// that remain, so a failing run leaves nothing behind.
func requireGone(t *testing.T, args ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var left []int
		for _, a := range args {
			left = append(left, pidsWithArg(a)...)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("processes %v of the key command are still running", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A key command that hangs fails within the timeout, and it and every process it
// started are gone, even when the caller's context allows much longer (the mount
// gives its whole start-up two minutes).
func TestFromCommandTimeoutStopsTheWholeGroup(t *testing.T) {
	shortCommandTimeout(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	direct, nested := uniqueSleep(), uniqueSleep()
	command := fmt.Sprintf("sleep %s & sh -c 'sleep %s; :' & wait", direct, nested)

	start := time.Now()
	_, err := FromCommand(ctx, command)
	took := time.Since(start)
	wantErrContains(t, err, "did not finish in time", "1s", "run it by hand")
	if took > commandTimeout+commandWaitDelay+2*time.Second {
		t.Errorf("took %v to give up; the timeout is %v", took, commandTimeout)
	}
	requireGone(t, direct, nested)
}

// A command that exits but leaves a background process holding its output cannot
// hang the mount either: it fails after a short wait, and the process is stopped.
// Its output (here a key) is never quoted in the error.
func TestFromCommandLeftoverHoldingOutput(t *testing.T) {
	arg := uniqueSleep()
	start := time.Now()
	_, err := FromCommand(context.Background(), "sleep "+arg+" & echo "+b64(5))
	wantErrContains(t, err, "background", "output")
	if took := time.Since(start); took > commandWaitDelay+3*time.Second {
		t.Errorf("took %v to give up", took)
	}
	assertNoLeak(t, "error", err.Error(), rawKey(5))
	requireGone(t, arg)
}

// A command that succeeds keeps what it left running in the background, as long as
// that does not hold our pipe: it may be an agent it started.
func TestFromCommandSuccessLeavesDetachedChildren(t *testing.T) {
	arg := uniqueSleep()
	r, err := FromCommand(context.Background(), "sleep "+arg+" >/dev/null 2>&1 & echo "+b64(6))
	if err != nil {
		t.Fatal(err)
	}
	if r.Current().Fingerprint() != mustKey(t, 6).Fingerprint() {
		t.Errorf("got %v", r)
	}
	pids := pidsWithArg(arg)
	if len(pids) != 1 {
		t.Errorf("background process: %v, want one", pids)
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// The caller's context still wins when it ends first.
func TestFromCommandCallerDeadline(t *testing.T) {
	arg := uniqueSleep()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := FromCommand(ctx, "sleep "+arg+" & wait")
	wantErrContains(t, err, "did not finish in time")
	if took := time.Since(start); took > commandWaitDelay+3*time.Second {
		t.Errorf("took %v to give up", took)
	}
	requireGone(t, arg)
}

const ttyHelperEnv = "SSECFS_KEYSRC_TTY_HELPER"

// A key command run from a terminal can still prompt on it: in its own process group it
// must be the terminal's foreground group, or reading would stop it (SIGTTIN) until the
// timeout. Afterwards the terminal is ours again, so Ctrl-C reaches us. The test runs
// itself under script(1), which gives it a terminal, and types a key into it.
func TestFromCommandPromptsOnTheTerminal(t *testing.T) {
	if os.Getenv(ttyHelperEnv) != "" {
		terminalHelper(t)
		return
	}
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed (util-linux)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, scriptBin, "-qec", exe+" -test.run=^TestFromCommandPromptsOnTheTerminal$ -test.v", "/dev/null")
	cmd.Env = append(os.Environ(), ttyHelperEnv+"=1")
	cmd.Stdin = strings.NewReader(b64(7) + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TTY HELPER OK") {
		t.Fatalf("under a terminal: %v\n%s", err, out)
	}
}

func terminalHelper(t *testing.T) {
	shortCommandTimeout(t, 10*time.Second)
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil || fg != syscall.Getpgrp() {
		t.Fatalf("the helper is not in the terminal's foreground (%d, %v; ours %d)", fg, err, syscall.Getpgrp())
	}
	r, err := FromCommand(context.Background(), `printf 'key: ' >&2; read -r k; printf '%s\n' "$k"`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current().Fingerprint() != mustKey(t, 7).Fingerprint() {
		t.Fatalf("got %v", r)
	}
	if fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP); err != nil || fg != syscall.Getpgrp() {
		t.Fatalf("the terminal's foreground group is %d (%v), not ours (%d) after the command", fg, err, syscall.Getpgrp())
	}
	fmt.Println("TTY HELPER OK")
}
