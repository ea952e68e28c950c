package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ssecfs/ssecfs/keysrc"
)

const keygenLong = `Makes a new SSE-C key: 32 bytes from the system's secure random source, written as one
line of base64. With -o it goes to FILE, created with mode 0600 (an existing file is
never overwritten); without, to standard output. The key's fingerprint, the name S3
keeps for it, goes to standard error.

Lose the key and every object encrypted with it is lost: S3 does not keep it, and
nobody, AWS included, can decrypt without it. Keep a copy somewhere safe.
`

var keygenHelp = commandHelp{
	usage:  "ssecfs keygen [-o FILE]",
	groups: []flagGroup{{title: "Flags:", names: []string{"output"}}},
}

func newKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen [-o FILE]",
		Short: "make a new key",
		Long:  keygenLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return badUsage("unexpected argument %q", args[0])
			}
			return status(runKeygen(out))
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the key to `FILE` (created 0600; never overwritten)")
	setHelp(cmd, keygenHelp)
	return cmd
}

// runKeygen is `ssecfs keygen`. It returns the exit status.
func runKeygen(out string) int {
	key, err := keysrc.GenerateKey()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs keygen: %v\n", err)
		return 1
	}
	if err := writeKey(out, key); err != nil {
		fmt.Fprintf(os.Stderr, "ssecfs keygen: %v\n", err)
		return 1
	}
	where := "standard output"
	if out != "" {
		where = out + " (mode 0600)"
	}
	fmt.Fprintf(os.Stderr, "new key written to %s\nfingerprint: %s\n"+
		"Keep a copy of this key somewhere safe: if it is lost, the data encrypted with it is lost too.\n",
		where, key.Fingerprint())
	return 0
}

// writeKey writes one base64 line to path, which must not exist yet, or to stdout.
func writeKey(path string, key keysrc.Key) error {
	line := key.Base64() + "\n"
	if path == "" {
		_, err := io.WriteString(os.Stdout, line)
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists; not overwriting a key file (a lost key loses its data)", path)
	}
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, line); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
