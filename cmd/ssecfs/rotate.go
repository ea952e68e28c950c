package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssecfs/ssecfs/audit"
	"github.com/ssecfs/ssecfs/keysrc"
	"github.com/ssecfs/ssecfs/rotate"
)

// rotateConfig is everything `ssecfs rotate` was told. bucketFlags holds the new keys;
// the old ones have flags of their own.
type rotateConfig struct {
	target
	bucketFlags
	fromKeys keysrc.Options

	concurrency int
	dryRun      bool
	auditLog    string
}

const rotateLong = `Re-encrypts every object under PREFIX that one of the OLD keys opens so that the first
NEW key opens it instead. The copy happens on the server (a keyed CopyObject onto the
object itself): no object data is downloaded. Metadata and Content-Type are kept.

Objects already under the new key are skipped, so an interrupted rotation resumes where
it stopped when run again. Objects that no key opens (or that are not SSE-C encrypted)
are never touched; they are listed at the end. The exit status is 0 only if every object
under PREFIX is under the new key at the end.

A mount whose keyring is NEW then OLD reads the bucket at every moment of a rotation.
`

var rotateHelp = commandHelp{
	usage: "ssecfs rotate --from-key-file OLD --key-file NEW [flags] BUCKET[/PREFIX]",
	groups: []flagGroup{
		{title: "Old keys (exactly one source; every key it holds is tried):",
			names: []string{"from-key-file", "from-key-env", "from-key-command"}},
		{title: "New keys (exactly one source; the first key is the one objects end up under):", names: keyFlagNames},
		whereGroup,
		{title: "Running:", names: []string{"concurrency", "dry-run", "audit-log"}},
	},
}

func (c *rotateConfig) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.fromKeys.File, "from-key-file", "", "`FILE` of the old keys (format as --key-file)")
	fs.StringVar(&c.fromKeys.Env, "from-key-env", "", "environment variable `NAME` holding the old keys")
	fs.StringVar(&c.fromKeys.Command, "from-key-command", "", "shell `COMMAND` whose output is the old key file")
	c.bucketFlags.register(fs)
	fs.IntVar(&c.concurrency, "concurrency", 4, "how many objects to re-encrypt at once (`N`)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "change nothing: count the objects under each key")
	fs.StringVar(&c.auditLog, "audit-log", "", auditLogHelp)
}

func (c *rotateConfig) finish(args []string) error {
	if err := positional("BUCKET[/PREFIX]")(nil, args); err != nil {
		return err
	}
	if err := c.target.set(args[0]); err != nil {
		return err
	}
	if c.fromKeys.File == "" && c.fromKeys.Env == "" && c.fromKeys.Command == "" {
		return invalid(fmt.Errorf("no old keys: give one of --from-key-file, --from-key-env, --from-key-command"))
	}
	if !c.haveKeys() {
		return invalid(fmt.Errorf("no new key: give one of --key-file, --key-env, --key-command"))
	}
	if c.concurrency < 1 || c.concurrency > 256 {
		return invalid(fmt.Errorf("--concurrency %d: want 1 to 256", c.concurrency))
	}
	return nil
}

func newRotateCmd() *cobra.Command {
	c := &rotateConfig{}
	cmd := &cobra.Command{
		Use:   "rotate --from-key-file OLD --key-file NEW [flags] BUCKET[/PREFIX]",
		Short: "re-encrypt under a new key",
		Long:  rotateLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.finish(args); err != nil {
				return err
			}
			return status(runRotate(c))
		},
	}
	c.register(cmd.Flags())
	setHelp(cmd, rotateHelp)
	return cmd
}

// runRotate is `ssecfs rotate`. It returns the exit status: 0 when every object under
// the prefix is under the new key, 1 when some are not or the rotation stopped, 2 for
// keys that cannot be read.
func runRotate(c *rotateConfig) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	disableCoreDumps(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	kctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	oldKeys, err := loadKeys(kctx, "old (--from-key-*)", c.fromKeys)
	var newKeys *keysrc.Keyring
	if err == nil {
		newKeys, err = loadKeys(kctx, "new (--key-*)", c.keys)
	}
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs rotate: %v\n", err)
		return 2
	}

	log, err := openAuditLog(c.auditLog)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs rotate: %v\n", err)
		return 1
	}
	defer log.Close()
	ctx = asThisProcess(ctx)
	cfg := c.config(c.bucket)
	cfg.Logger, cfg.Observer = logger, auditObserver(log)
	log.Event(audit.KindRotation, map[string]any{"phase": "start", "bucket": c.bucket, "prefix": c.prefix,
		"new_key": newKeys.Current().Fingerprint(), "old_keys": oldKeys.Fingerprints(), "dry_run": c.dryRun,
		"uid": os.Getuid(), "pid": os.Getpid()})
	done, err := rotate.Run(ctx, rotate.Config{
		Bucket:      cfg,
		Prefix:      c.prefix,
		Old:         oldKeys,
		New:         newKeys,
		Concurrency: c.concurrency,
		DryRun:      c.dryRun,
	}, os.Stdout)
	end := map[string]any{"phase": "end", "complete": done && err == nil}
	if err != nil {
		end["error"] = err.Error()
	}
	log.Event(audit.KindRotation, end)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs rotate: %v\n", err)
		return 1
	}
	if !done {
		return 1
	}
	return 0
}

// loadKeys loads one set of keys; what says which, since keysrc names mount's flags.
func loadKeys(ctx context.Context, what string, o keysrc.Options) (*keysrc.Keyring, error) {
	r, err := keysrc.Load(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("%s keys: %w", what, err)
	}
	return r, nil
}
