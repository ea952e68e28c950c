package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// How mount(8) and /etc/fstab reach ssecfs: `mount -t fuse.ssecfs SOURCE MOUNTPOINT -o
// OPTIONS` runs mount.fuse3, which runs `ssecfs SOURCE MOUNTPOINT -o OPTIONS`, and
// `mount -t ssecfs` runs /sbin/mount.ssecfs (scripts/mount.ssecfs), which does the
// same. OPTIONS hold ssecfs's own flags (key_file=/etc/ssecfs/key) and the generic
// options that mount(8), mount.fuse3 and systemd add or keep (rw, dev, suid, nofail,
// x-systemd.requires=...).

// genericOptions are the options other than ssecfs's flags that -o takes, in groups
// that do the same, as --help and the man page list them.
var genericOptions = []struct {
	names []string
	does  string
}{
	{[]string{"ro"}, "the same as --read-only"},
	{[]string{"nonempty"}, "the same as --allow-non-empty"},
	{[]string{"nodev", "nosuid", "noexec"}, "passed to the kernel"},
	// A FUSE mount is nodev and nosuid whatever it is told, which keeps device files
	// and set-uid programs in a bucket from taking effect; mount.fuse3 adds dev and suid.
	{[]string{"rw", "dev", "suid", "exec", "defaults", "default_permissions"},
		"the defaults, ignored (a mount is always nodev and nosuid)"},
	{[]string{"auto", "noauto", "user", "nouser", "users", "nofail", "_netdev"},
		"for mount(8) and systemd, ignored"},
	// Reads never move atime here: every mount is noatime already.
	{[]string{"noatime", "nodiratime", "relatime"}, "ignored: reads never change atime"},
	{[]string{"comment=...", "x-*"}, "ignored (x-systemd.requires=..., x-systemd.automount, ...)"},
}

// kernelOptions are the generic options passed on to the kernel mount.
var kernelOptions = []string{"nodev", "nosuid", "noexec"}

// optionAliases are generic names of ssecfs flags.
var optionAliases = map[string]string{
	"ro":       "read-only",
	"nonempty": "allow-non-empty",
}

// ignoredOption reports whether name is a generic option that changes nothing.
func ignoredOption(name string) bool {
	if name == "comment" || strings.HasPrefix(name, "x-") {
		return true
	}
	for _, g := range genericOptions[3:] {
		if slices.Contains(g.names, name) {
			return true
		}
	}
	return false
}

// optionsHelp is what mount --help says of -o beyond the flag itself.
func optionsHelp() string {
	var b strings.Builder
	b.WriteString("Each -o option is a flag's name with _ for - (key_file=FILE, read_only, allow_other),\n" +
		"or one of those that mount(8), mount.fuse3 and systemd pass:\n")
	for _, g := range genericOptions {
		fmt.Fprintf(&b, "  %s\n    \t%s\n", strings.Join(g.names, ", "), g.does)
	}
	b.WriteString("\n-o options are applied after the flags. Run without \"mount\", as mount.fuse3 runs it\n" +
		"for mount -t fuse.ssecfs and fstab lines of that type, ssecfs BUCKET[/PREFIX] MOUNTPOINT\n" +
		"-o OPTIONS is the same as ssecfs mount -o OPTIONS BUCKET[/PREFIX] MOUNTPOINT.")
	return b.String()
}

// optionsManual is optionsHelp for the man page, in markdown.
func optionsManual() string {
	var b strings.Builder
	b.WriteString("\n# MOUNT OPTIONS\n" +
		"Each option below can also be given as **-o** *name*[=*value*], the flag's name with _ for -, " +
		"as mount(8) and /etc/fstab pass options: **-o key_file=/etc/ssecfs/key,read_only,uid=1000**. " +
		"**-o** options are applied after the flags. **-o** also takes the options that mount(8), " +
		"mount.fuse3 and systemd pass:\n\n")
	for _, g := range genericOptions {
		names := make([]string, len(g.names))
		for i, n := range g.names {
			names[i] = "**" + n + "**"
		}
		fmt.Fprintf(&b, "- %s: %s\n", strings.Join(names, ", "), g.does)
	}
	b.WriteString("\n# FSTAB\n" +
		"mount(8) mounts a line of type **fuse.ssecfs** through mount.fuse3, which runs " +
		"**ssecfs** *BUCKET[/PREFIX]* *MOUNTPOINT* **-o** *OPTIONS* (found in PATH), the same as " +
		"**ssecfs mount -o** *OPTIONS* *BUCKET[/PREFIX]* *MOUNTPOINT*; a line of type **ssecfs** goes " +
		"through /sbin/mount.ssecfs, which make install puts there. Either returns once the mount is live.\n\n" +
		"```\nmy-bucket/some/prefix  /mnt/s3  fuse.ssecfs  key_file=/etc/ssecfs/key,_netdev,nofail  0  0\n```\n")
	return b.String()
}

// applyMountOptions sets what c.options (each a comma-separated list) say.
func applyMountOptions(fs *pflag.FlagSet, c *mountConfig) error {
	for _, list := range c.options {
		for _, opt := range strings.Split(list, ",") {
			if err := applyMountOption(fs, c, opt); err != nil {
				return err
			}
		}
	}
	return nil
}

func applyMountOption(fs *pflag.FlagSet, c *mountConfig, opt string) error {
	name, value, hasValue := strings.Cut(opt, "=")
	switch {
	case opt == "":
		return nil
	case ignoredOption(name), slices.Contains(kernelOptions, name):
		if hasValue && name != "comment" && !strings.HasPrefix(name, "x-") {
			return badUsage("-o %s: %s takes no value", opt, name)
		}
		if slices.Contains(kernelOptions, name) && !slices.Contains(c.kernelOptions, name) {
			c.kernelOptions = append(c.kernelOptions, name)
		}
		return nil
	}
	flagName := strings.ReplaceAll(name, "_", "-")
	if alias, ok := optionAliases[name]; ok {
		flagName = alias
	}
	f := fs.Lookup(flagName)
	if f == nil || flagName == "options" || flagName == "help" {
		return badUsage("unknown option -o %s", name)
	}
	if !hasValue {
		if f.Value.Type() != "bool" {
			return badUsage("-o %s needs a value: %s=%s", name, name, valueName(f))
		}
		value = "true"
	}
	if err := fs.Set(flagName, value); err != nil {
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return badUsage("-o %s: %s", opt, explainValueError(err))
	}
	return nil
}

// valueName is what the help calls the value of f, e.g. FILE.
func valueName(f *pflag.Flag) string {
	name, _ := pflag.UnquoteUsage(f)
	return name
}
