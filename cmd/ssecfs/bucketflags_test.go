package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Every command's --help lists every flag it has, once, and mount, check and rotate
// share the key and endpoint flags with the same help text.
func TestHelpListsEveryFlag(t *testing.T) {
	usage := map[string]string{}
	root := newRootCmd()
	for _, name := range []string{"mount", "check", "rotate", "keygen"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd.Name() != name {
			t.Fatalf("no command %s: %v", name, err)
		}
		var out strings.Builder
		cmd.SetOut(&out)
		cmd.HelpFunc()(cmd, nil)
		help := out.String()
		if !strings.HasPrefix(help, "Usage: ssecfs "+name) {
			t.Errorf("%s --help does not begin with its usage:\n%s", name, help)
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			listed := regexp.MustCompile(`(?m)^  (-\w, )?--` + f.Name + `( |$)`)
			if n := len(listed.FindAllString(help, -1)); n != 1 {
				t.Errorf("%s --help lists --%s %d times:\n%s", name, f.Name, n, help)
			}
		})
		if name == "keygen" {
			continue
		}
		for _, n := range append(append([]string{}, keyFlagNames...), whereFlagNames...) {
			f := cmd.Flags().Lookup(n)
			if f == nil {
				t.Errorf("%s has no --%s", name, n)
				continue
			}
			if u, ok := usage[n]; ok && u != f.Usage {
				t.Errorf("--%s of %s has its own help text %q", n, name, f.Usage)
			}
			usage[n] = f.Usage
		}
		if !strings.Contains(help, "Credentials come from the standard AWS chain") {
			t.Errorf("%s --help does not say where credentials come from", name)
		}
	}
}

func TestBucketFlagsConfig(t *testing.T) {
	c, _, err := parseMountArgs([]string{"--endpoint", "https://s3.example", "--region", "eu-west-1", "--profile", "p",
		"--ca-bundle", "/ca.pem", "--insecure-http", "--key-command", "pass show k", "s3://bkt/pre", "/mnt"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.config(c.bucket)
	if cfg.Bucket != "bkt" || cfg.Endpoint != "https://s3.example" || cfg.Region != "eu-west-1" || cfg.Profile != "p" ||
		cfg.CABundle != "/ca.pem" || !cfg.InsecureHTTP || cfg.Keyring != nil {
		t.Errorf("config %+v", cfg)
	}
	if c.keys.Command != "pass show k" || c.prefix != "pre/" || c.mountpoint != "/mnt" || !c.haveKeys() {
		t.Errorf("parsed %+v", c)
	}
}

func TestParseRotateArgs(t *testing.T) {
	c, err := parseRotateArgs([]string{"bkt/p", "--from-key-file", "old", "--key-env", "NEW", "--dry-run", "--concurrency", "9"})
	if err != nil {
		t.Fatal(err)
	}
	if c.bucket != "bkt" || c.prefix != "p/" || c.fromKeys.File != "old" || c.keys.Env != "NEW" || !c.dryRun || c.concurrency != 9 {
		t.Errorf("parsed %+v", c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bkt", "--key-file", "new"}, "no old keys"},
		{[]string{"bkt", "--from-key-file", "old"}, "no new key"},
		{[]string{"bkt", "--from-key-file", "old", "--key-file", "new", "--concurrency", "0"}, "--concurrency 0"},
		{[]string{"--from-key-file", "old", "--key-file", "new"}, "want BUCKET[/PREFIX], got 0"},
		{[]string{"a", "b", "--from-key-file", "old", "--key-file", "new"}, "want BUCKET[/PREFIX], got 2"},
	} {
		_, err := parseRotateArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
