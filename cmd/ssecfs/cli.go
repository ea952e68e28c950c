package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// run runs the command line args (without the program name) and returns the exit
// status: 0, 1 when the command failed, 2 when the command line is wrong. Every error
// is one line on stderr, naming the command.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(dashDashLongFlags(root, args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	var exit exitStatus
	if errors.As(err, &exit) {
		return int(exit)
	}
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "%s: %s", cmd.CommandPath(), usage.msg)
		if usage.seeHelp {
			see := cmd.CommandPath()
			if usage.see != "" {
				see = usage.see
			}
			fmt.Fprintf(stderr, " (see %s --help)", see)
		}
		fmt.Fprintln(stderr)
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	return 1
}

// exitStatus ends the command with this status; what went wrong was already said.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// status is nil for 0, else the exitStatus.
func status(code int) error {
	if code == 0 {
		return nil
	}
	return exitStatus(code)
}

// usageError is a wrong command line: exit status 2, and one line that points to
// --help when seeHelp.
type usageError struct {
	msg     string
	seeHelp bool
	see     string // the command whose --help to see, if not the one that ran
}

func (e *usageError) Error() string { return e.msg }

// badUsage is a wrong command line that --help explains.
func badUsage(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), seeHelp: true}
}

// invalid is a value that the message itself explains.
func invalid(err error) error {
	return &usageError{msg: err.Error()}
}

// flagError rewrites pflag's errors as one short line with the flag spelled --name.
func flagError(_ *cobra.Command, err error) error {
	var (
		notExist *pflag.NotExistError
		noValue  *pflag.ValueRequiredError
		badValue *pflag.InvalidValueError
		syntax   *pflag.InvalidSyntaxError
	)
	switch {
	case errors.As(err, &notExist):
		if s := notExist.GetSpecifiedShortnames(); s != "" {
			return badUsage("unknown flag -%s", s)
		}
		return badUsage("unknown flag --%s", notExist.GetSpecifiedName())
	case errors.As(err, &noValue):
		return badUsage("--%s needs a value", noValue.GetFlag().Name)
	case errors.As(err, &badValue):
		return badUsage("--%s %s: %s", badValue.GetFlag().Name, badValue.GetValue(), explainValueError(badValue.Unwrap()))
	case errors.As(err, &syntax):
		return badUsage("bad flag syntax %s", syntax.GetSpecifiedFlag())
	}
	return badUsage("%v", err)
}

// explainValueError says what a value should look like where pflag's own parsers
// answer with strconv's or time's wording.
func explainValueError(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "strconv.ParseBool"):
		return "want true or false"
	case strings.HasPrefix(msg, "strconv.ParseUint"), strings.HasPrefix(msg, "strconv.ParseInt"):
		return "want a whole number"
	case strings.HasPrefix(msg, "time: "):
		return "want a duration like 30s, 5m or 1h"
	}
	return msg
}

// dashDashLongFlags accepts the single-dash spelling of long flags (-key-file) that
// ssecfs took before it used pflag, by writing them as --key-file. Only names of flags
// are touched, and nothing after "--".
func dashDashLongFlags(root *cobra.Command, args []string) []string {
	long := map[string]bool{"help": true, "version": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if long[name] {
				out[i] = "-" + a
			}
		}
	}
	return out
}

// positional checks the count of positional arguments: the command's names for them,
// e.g. "BUCKET[/PREFIX]", "MOUNTPOINT".
func positional(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return badUsage("want %s, got %d argument(s)", strings.Join(names, " and "), len(args))
		}
		return nil
	}
}
