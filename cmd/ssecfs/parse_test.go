package main

import "github.com/spf13/pflag"

// The parsers of the tests: a command line read into a command's config as cobra does,
// without running it.

// parseMountArgs reads a command line of `ssecfs mount` into a mountConfig.
func parseMountArgs(args []string) (*mountConfig, *pflag.FlagSet, error) {
	c := &mountConfig{}
	fs := pflag.NewFlagSet("ssecfs mount", pflag.ContinueOnError)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, flagError(nil, err)
	}
	if err := c.finish(fs, fs.Args()); err != nil {
		return nil, nil, err
	}
	return c, fs, nil
}

func parseCheckArgs(args []string) (*checkConfig, error) {
	c := &checkConfig{}
	fs := pflag.NewFlagSet("ssecfs check", pflag.ContinueOnError)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, flagError(nil, err)
	}
	if err := c.finish(fs.Args()); err != nil {
		return nil, err
	}
	return c, nil
}

func parseRotateArgs(args []string) (*rotateConfig, error) {
	c := &rotateConfig{}
	fs := pflag.NewFlagSet("ssecfs rotate", pflag.ContinueOnError)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, flagError(nil, err)
	}
	if err := c.finish(fs.Args()); err != nil {
		return nil, err
	}
	return c, nil
}
