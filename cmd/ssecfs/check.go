package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ssecfs/ssecfs/check"
)

// checkConfig is everything `ssecfs check` was told.
type checkConfig struct {
	target
	bucketFlags
	readOnly bool
	sample   int
}

const checkUsage = `Usage: ssecfs check [flags] BUCKET[/PREFIX]

Tells, in plain words, whether BUCKET (or only the keys under PREFIX) can be used with
these keys, and why not: the endpoint and credentials, the bucket's encryption
configuration, a probe object written, read back and deleted with the current key, and
which key opens each of a sample of the objects. Exits 0 when the bucket is usable and
every sampled object opens; otherwise 1, with the reason on the last line. Keys are only
ever shown by fingerprint.

Keys (exactly one source; the first key writes, the others are older keys):
`

func newCheckFlags(c *checkConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("ssecfs check", flag.ContinueOnError)
	c.bucketFlags.register(fs)
	fs.BoolVar(&c.readOnly, "read-only", false, "check for a read-only mount: write no probe object, and do not fail\n"+
		"when the bucket blocks SSE-C writes")
	fs.IntVar(&c.sample, "sample", 100, "how many objects (`N`) under the prefix to try the keys on")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, checkUsage)
		printFlags(fs, keyFlagNames...)
		printWhereFlags(fs)
		fmt.Fprintln(out, "\nWhat to check:")
		printFlags(fs, "read-only", "sample")
	}
	return fs
}

func parseCheckArgs(args []string) (*checkConfig, error) {
	c := &checkConfig{}
	fs := newCheckFlags(c)
	if _, err := parseCommandLine(fs, args, &c.target); err != nil {
		return nil, err
	}
	if c.sample < 0 {
		return nil, fmt.Errorf("--sample %d: want 0 or more", c.sample)
	}
	return c, nil
}

// runCheck is `ssecfs check`. It returns the exit status.
func runCheck(args []string) int {
	// Before the keys are read: like mount and rotate, check holds them.
	disableCoreDumps(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	c, err := parseCheckArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs check: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if !check.Run(ctx, check.Config{
		Keys:     c.keys,
		Bucket:   c.config(c.bucket),
		Prefix:   c.prefix,
		ReadOnly: c.readOnly,
		Sample:   c.sample,
	}, os.Stdout) {
		return 1
	}
	return 0
}
