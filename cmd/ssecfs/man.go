package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd is `ssecfs man [DIR]`: the man pages, made from the same flag definitions
// as --help. Without DIR it prints ssecfs(1); with DIR it writes a page for every
// command there (make man writes docs/man).
func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man [DIR]",
		Short:  "print ssecfs(1), or write every command's man page into DIR",
		Hidden: true,
		Args:   cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			root.DisableAutoGenTag = true
			if mount, _, err := root.Find([]string{"mount"}); err == nil {
				mount.Long += optionsManual() // --help has them after the flags
			}
			header := &doc.GenManHeader{Title: "SSECFS", Section: "1", Source: "ssecfs " + readVersion().version, Manual: "ssecfs manual"}
			if len(args) == 0 {
				return doc.GenMan(root, header, cmd.OutOrStdout())
			}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			return doc.GenManTree(root, header, args[0])
		},
	}
}
