package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const rootLong = `ssecfs mounts an S3 bucket encrypted with SSE-C (customer-provided AES-256 keys)
as a local directory. Every request that touches object data carries the key; the key is
never logged, never put on a command line, and plaintext never touches the local disk.
`

const rootUsage = `Usage:
  ssecfs mount [flags] BUCKET[/PREFIX] MOUNTPOINT   mount a bucket (see: ssecfs mount --help)
  ssecfs keygen [-o FILE]                           make a new key (see: ssecfs keygen --help)
  ssecfs rotate [flags] BUCKET[/PREFIX]             re-encrypt under a new key (see: ssecfs rotate --help)
  ssecfs check [flags] BUCKET[/PREFIX]              can these keys use this bucket? (see: ssecfs check --help)
  ssecfs version                                    version, commit and Go version (also ssecfs --version)
  ssecfs completion bash|zsh|fish                   shell completion script (see: ssecfs completion --help)
  ssecfs help [COMMAND]                             this text, or a command's

As mount(8) runs it, for mount -t fuse.ssecfs and /etc/fstab (see: ssecfs mount --help):
  ssecfs BUCKET[/PREFIX] MOUNTPOINT -o key_file=FILE[,OPTION...]

Unmount with: umount MOUNTPOINT (or fusermount3 -u MOUNTPOINT as a non-root user).
`

const rootExample = `  ssecfs keygen -o /etc/ssecfs/key
  ssecfs mount --key-file /etc/ssecfs/key my-bucket/some/prefix /mnt/s3
  mount -t fuse.ssecfs my-bucket /mnt/s3 -o key_file=/etc/ssecfs/key,ro

  # /etc/fstab
  my-bucket  /mnt/s3  fuse.ssecfs  key_file=/etc/ssecfs/key,_netdev,nofail  0  0`

// newRootCmd is the whole command line. Run without a command and with two arguments,
// it mounts, as mount.fuse3 runs it: ssecfs SOURCE MOUNTPOINT -o OPTIONS.
func newRootCmd() *cobra.Command {
	var options []string
	root := &cobra.Command{
		Use:     "ssecfs [BUCKET[/PREFIX] MOUNTPOINT -o OPTIONS]",
		Short:   "mount an S3 bucket encrypted with SSE-C",
		Long:    rootLong,
		Example: rootExample,
		Version: readVersion().version,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 2, len(args) == 0 && len(options) == 0:
				return nil
			case len(args) == 1 && len(options) == 0 && !strings.Contains(args[0], "/"):
				msg := fmt.Sprintf("unknown command %q", args[0])
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += "; did you mean " + strings.Join(s, " or ") + "?"
				}
				return badUsage("%s", msg)
			}
			return badUsage("want a command, or BUCKET[/PREFIX] and MOUNTPOINT to mount, got %d argument(s)", len(args))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				printRootHelp(cmd.ErrOrStderr())
				return exitStatus(2)
			}
			c := &mountConfig{}
			fs := pflag.NewFlagSet("ssecfs", pflag.ContinueOnError)
			c.register(fs)
			c.options = options
			if err := c.finish(fs, args); err != nil {
				var usage *usageError
				if errors.As(err, &usage) {
					usage.see = "ssecfs mount" // which explains -o
				}
				return err
			}
			return status(runMount(c, fs))
		},
		SuggestionsMinimumDistance: 2,
		SilenceErrors:              true,
		SilenceUsage:               true,
		DisableFlagsInUseLine:      true,
	}
	root.Flags().StringArrayVarP(&options, "options", "o", nil, "mount `OPTIONS`, as mount(8) passes them (see ssecfs mount --help)")
	root.SetVersionTemplate(readVersion().String())
	root.SetFlagErrorFunc(flagError)
	cobraHelp := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c == root {
			printRootHelp(c.OutOrStdout())
			return
		}
		cobraHelp(c, args) // commands of cobra's own, such as completion
	})
	root.AddCommand(newMountCmd(), newKeygenCmd(), newRotateCmd(), newCheckCmd(), newVersionCmd(), newManCmd())
	return root
}

func printRootHelp(w io.Writer) {
	fmt.Fprint(w, rootLong+"\n"+rootUsage)
}

// noArgs refuses positional arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return badUsage("unexpected argument %q", args[0])
	}
	return nil
}
