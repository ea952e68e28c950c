package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commandHelp is a command's --help: the usage line, then the command's Long text,
// then its flags under headings (as the man page cannot group them, it lists them all).
type commandHelp struct {
	usage  string
	groups []flagGroup
	footer string
}

// flagGroup is one heading of --help and the flags under it, in order, and what to
// say after them.
type flagGroup struct {
	title string
	names []string
	after string
}

// setHelp makes c's --help, `ssecfs help NAME` and the one-line errors use h.
func setHelp(c *cobra.Command, h commandHelp) {
	c.SetHelpFunc(func(c *cobra.Command, _ []string) { printHelp(c.OutOrStdout(), c, h) })
}

func printHelp(w io.Writer, c *cobra.Command, h commandHelp) {
	fmt.Fprintf(w, "Usage: %s\n\n%s", h.usage, c.Long)
	for _, g := range h.groups {
		fmt.Fprintf(w, "\n%s\n", g.title)
		printFlags(w, c.Flags(), g.names...)
		if g.after != "" {
			fmt.Fprintf(w, "\n%s\n", g.after)
		}
	}
	if h.footer != "" {
		fmt.Fprintf(w, "\n%s\n", h.footer)
	}
}

// printFlags prints the named flags in the order given:
//
//	--name VALUE
//	    	what it does (default ...)
func printFlags(w io.Writer, fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			panic("--help lists --" + n + ", which is not a flag")
		}
		name, use := pflag.UnquoteUsage(f)
		line := "  --" + f.Name
		if f.Shorthand != "" {
			line = "  -" + f.Shorthand + ", --" + f.Name
		}
		if name != "" {
			line += " " + name
		}
		use = strings.ReplaceAll(use, "\n", "\n    \t")
		fmt.Fprintf(w, "%s\n    \t%s", line, use)
		if showDefault(f) {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	}
}

// showDefault reports whether f's default says more than "off" or "none".
func showDefault(f *pflag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "0000", "[]":
		return false
	}
	return true
}
