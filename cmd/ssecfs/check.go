package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssecfs/ssecfs/audit"
	"github.com/ssecfs/ssecfs/check"
)

// checkConfig is everything `ssecfs check` was told.
type checkConfig struct {
	target
	bucketFlags
	readOnly bool
	sample   int
	auditLog string
}

const checkLong = `Tells, in plain words, whether BUCKET (or only the keys under PREFIX) can be used with
these keys, and why not: the endpoint and credentials, the bucket's encryption
configuration, a probe object written, read back and deleted with the current key, and
which key opens each of a sample of the objects. Exits 0 when the bucket is usable and
every sampled object opens; otherwise 1, with the reason on the last line. Keys are only
ever shown by fingerprint.
`

var checkHelp = commandHelp{
	usage: "ssecfs check [flags] BUCKET[/PREFIX]",
	groups: []flagGroup{
		{title: "Keys (exactly one source; the first key writes, the others are older keys):", names: keyFlagNames},
		whereGroup,
		{title: "What to check:", names: []string{"read-only", "sample", "audit-log"}},
	},
}

func (c *checkConfig) register(fs *pflag.FlagSet) {
	c.bucketFlags.register(fs)
	fs.BoolVar(&c.readOnly, "read-only", false, "check for a read-only mount: write no probe object, and do not fail\n"+
		"when the bucket blocks SSE-C writes")
	fs.IntVar(&c.sample, "sample", 100, "how many objects (`N`) under the prefix to try the keys on")
	fs.StringVar(&c.auditLog, "audit-log", "", auditLogHelp)
}

func (c *checkConfig) finish(args []string) error {
	if err := positional("BUCKET[/PREFIX]")(nil, args); err != nil {
		return err
	}
	if err := c.target.set(args[0]); err != nil {
		return err
	}
	if c.sample < 0 {
		return invalid(fmt.Errorf("--sample %d: want 0 or more", c.sample))
	}
	return nil
}

func newCheckCmd() *cobra.Command {
	c := &checkConfig{}
	cmd := &cobra.Command{
		Use:   "check [flags] BUCKET[/PREFIX]",
		Short: "can these keys use this bucket?",
		Long:  checkLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Before the keys are read: like mount and rotate, check holds them.
			disableCoreDumps(slog.New(slog.NewTextHandler(os.Stderr, nil)))
			if err := c.finish(args); err != nil {
				return err
			}
			return status(runCheck(c))
		},
	}
	c.register(cmd.Flags())
	setHelp(cmd, checkHelp)
	return cmd
}

// runCheck is `ssecfs check`. It returns the exit status.
func runCheck(c *checkConfig) int {
	log, err := openAuditLog(c.auditLog)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs check: %v\n", err)
		return 1
	}
	defer log.Close()
	ctx, cancel := context.WithTimeout(asThisProcess(context.Background()), 10*time.Minute)
	defer cancel()
	cfg := c.config(c.bucket)
	cfg.Observer = auditObserver(log)
	usable := check.Run(ctx, check.Config{
		Keys:     c.keys,
		Bucket:   cfg,
		Prefix:   c.prefix,
		ReadOnly: c.readOnly,
		Sample:   c.sample,
	}, os.Stdout)
	log.Event(audit.KindCheck, map[string]any{"bucket": c.bucket, "prefix": c.prefix, "read_only": c.readOnly,
		"usable": usable, "uid": os.Getuid(), "pid": os.Getpid()})
	if !usable {
		return 1
	}
	return 0
}
