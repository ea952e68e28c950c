package keysrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	// maxKeyData bounds what we read from a key file or command: a key file
	// is a few hundred bytes, so anything this big is a mistake (say,
	// --key-file pointing at a disk image or /dev/urandom).
	maxKeyData = 1 << 20

	// commandWaitDelay bounds how long we wait for the command's output pipe
	// to close once it was killed or has exited: a process it left in the
	// background may hold it.
	commandWaitDelay = 2 * time.Second

	// oneSourceMsg is the error when Options does not name exactly one source.
	oneSourceMsg = "give exactly one of --key-file, --key-env, --key-command"
)

// CommandTimeout bounds a key command, whatever the caller's context allows: a
// command that waits for input that never comes (a passphrase prompt without a
// terminal) must fail soon and clearly, not after the mount's whole start-up budget.
const CommandTimeout = 30 * time.Second

// commandTimeout is CommandTimeout; tests shorten it.
var commandTimeout = CommandTimeout

// Options are the key-source flags of the command line. Exactly one field
// must be set.
type Options struct {
	File    string // --key-file: path of a key file
	Env     string // --key-env: name of an environment variable
	Command string // --key-command: shell command printing a key file
}

// Load builds the keyring from the one source set in o.
func Load(ctx context.Context, o Options) (*Keyring, error) {
	var set []string
	if o.File != "" {
		set = append(set, "--key-file")
	}
	if o.Env != "" {
		set = append(set, "--key-env")
	}
	if o.Command != "" {
		set = append(set, "--key-command")
	}
	switch {
	case len(set) == 0:
		return nil, errors.New("no key source: " + oneSourceMsg)
	case len(set) > 1:
		return nil, fmt.Errorf("%s given together: %s", strings.Join(set, " and "), oneSourceMsg)
	case o.File != "":
		return FromFile(o.File)
	case o.Env != "":
		return FromEnv(o.Env)
	default:
		return FromCommand(ctx, o.Command)
	}
}

// FromFile reads a key file. It refuses a file that group or others may
// access: the keys decrypt the whole bucket, and a loose mode usually means
// the file was created carelessly and may already have been copied around.
// Directories are refused; pipes (e.g. --key-file <(pass show ssecfs)) are
// fine, they are created 0600.
func FromFile(path string) (*Keyring, error) {
	source := "key file " + path
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	// Stat the open file rather than the path, so the mode we check is the
	// mode of the file we read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory; give the path of a key file", source)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o (%s), so group or others can access it; refusing to use it, run: chmod 600 %s",
			source, perm, fi.Mode(), path)
	}
	data, err := readLimited(f)
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	keys, err := Parse(source, data)
	if err != nil {
		return nil, err
	}
	return NewKeyring(keys...)
}

// FromEnv reads keys from the environment variable name, separated by ':' or
// newlines. ':' never occurs in base64, so it is an unambiguous separator
// that fits on one shell line.
func FromEnv(name string) (*Keyring, error) {
	source := "environment variable " + name
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("%s is not set; put base64 keys in it, separated by ':', %s", source, makeKeyHint)
	}
	keys, err := parseEnv(source, v)
	if err != nil {
		return nil, err
	}
	return NewKeyring(keys...)
}

// parseEnv parses the value v of the variable FromEnv reads.
func parseEnv(source, v string) ([]Key, error) {
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%s is empty; put base64 keys in it, separated by ':', %s", source, makeKeyHint)
	}
	data := []byte(v)
	// A 32-byte value is a raw key (see Parse) and may contain ':' itself,
	// so only split longer values.
	if len(data) != keySize {
		data = []byte(strings.ReplaceAll(v, ":", "\n"))
	}
	return parse(source, "entry", data)
}

// FromCommand runs command with /bin/sh -c and parses its standard output as
// a key file. Its standard error goes to ours, so password prompts and
// error messages of tools like pass or vault reach the user; its standard
// input is ours for the same reason. Output over 1 MiB is refused.
//
// The command gets 30 seconds (less if ctx ends sooner). It runs in a process
// group of its own, so that on a timeout or a failure everything it started
// is killed with it, not only the shell. When our standard input is the
// terminal we are in the foreground of, its group gets the terminal while it
// runs, so it can still prompt there (and Ctrl-C stops it).
func FromCommand(ctx context.Context, command string) (*Keyring, error) {
	if strings.TrimSpace(command) == "" {
		return nil, errors.New("key command is empty")
	}
	limit := commandTimeout
	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	// The command text is left out of errors: usually it only names where
	// the key is, but nothing stops someone from writing the key into it
	// (--key-command 'echo ...'), and the user knows which command they gave.
	// Its output is never quoted either: it is meant to be keys.
	const name = "key command"

	out := &limitedBuffer{limit: maxKeyData}
	cmd := exec.CommandContext(runCtx, "/bin/sh", "-c", command)
	cmd.Stdin = os.Stdin
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tty := onForegroundTerminal(os.Stdin)
	if tty {
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = int(os.Stdin.Fd())
	}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = commandWaitDelay
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
		if err != nil {
			// Whatever it left running is of no use now, and may hold the
			// pipe or wait on the terminal.
			killGroup(cmd.Process.Pid)
		}
	}
	if tty {
		takeTerminalBack(os.Stdin)
	}
	switch {
	case out.overflow:
		return nil, fmt.Errorf("%s printed more than %d bytes; a key file is much smaller, check the command", name, maxKeyData)
	case err != nil && ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s did not finish in time: %w", name, ctx.Err())
		}
		return nil, fmt.Errorf("%s: %w", name, ctx.Err())
	case err != nil && runCtx.Err() != nil:
		return nil, fmt.Errorf("%s did not finish in time (%v) and was stopped, with every process it started; "+
			"run it by hand to see where it waits: it must print the keys without waiting for input "+
			"(a passphrase prompt needs an agent such as gpg-agent when there is no terminal)", name, limit)
	case errors.Is(err, exec.ErrWaitDelay):
		return nil, fmt.Errorf("%s exited, but a process it started in the background kept its output open, "+
			"so it was stopped; send that process's output elsewhere (>/dev/null) or wait for it in the command", name)
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 127 {
			return nil, fmt.Errorf("%s failed: %w (command not found?)", name, err)
		}
		return nil, fmt.Errorf("%s failed: %w", name, err)
	}
	keys, err := Parse("output of "+name, out.buf.Bytes())
	if err != nil {
		return nil, err
	}
	return NewKeyring(keys...)
}

// readLimited reads all of r, refusing more than maxKeyData bytes.
func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeyData+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyData {
		return nil, fmt.Errorf("more than %d bytes; a key file is much smaller", maxKeyData)
	}
	return data, nil
}

// limitedBuffer collects up to limit bytes and then fails writes, which makes
// os/exec close the pipe so a runaway command stops instead of filling
// memory.
type limitedBuffer struct {
	buf      bytes.Buffer
	limit    int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.limit {
		b.overflow = true
		return 0, errors.New("output too large")
	}
	return b.buf.Write(p)
}
