package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the release, set when building: go build -ldflags "-X main.version=v1.2.0"
// (make build sets it from git describe). Without it, the module version of go install
// is used, if any.
var version string

// buildVersion is what `ssecfs version` says.
type buildVersion struct {
	version   string
	commit    string // "unknown" when built without VCS information (-buildvcs=false)
	modified  bool   // uncommitted changes were built
	goVersion string
	platform  string
}

func readVersion() buildVersion {
	info, _ := debug.ReadBuildInfo()
	return versionOf(version, info)
}

// versionOf is what the build says: ldVersion from -ldflags, info from the binary.
func versionOf(ldVersion string, info *debug.BuildInfo) buildVersion {
	v := buildVersion{version: ldVersion, commit: "unknown", goVersion: runtime.Version(),
		platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info != nil {
		if v.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.version = info.Main.Version
		}
		if info.GoVersion != "" {
			v.goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.commit = s.Value
			case "vcs.modified":
				v.modified = s.Value == "true"
			}
		}
	}
	if v.version == "" {
		v.version = "unknown"
	}
	return v
}

func (v buildVersion) String() string {
	commit := v.commit
	if v.modified {
		commit += " (with uncommitted changes)"
	}
	return fmt.Sprintf("ssecfs version %s\ncommit: %s\ngo: %s %s\n", v.version, commit, v.goVersion, v.platform)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, commit and Go version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.OutOrStdout(), readVersion())
			return nil
		},
	}
}
