package main

import (
	"testing"
)

func TestParseCheckArgs(t *testing.T) {
	c, err := parseCheckArgs([]string{"s3://bkt/some/prefix/", "--key-env", "K", "--read-only", "--sample", "7", "--endpoint", "https://x"})
	if err != nil {
		t.Fatal(err)
	}
	if c.bucket != "bkt" || c.prefix != "some/prefix/" || !c.readOnly || c.sample != 7 || c.keys.Env != "K" || c.endpoint != "https://x" {
		t.Errorf("parsed %+v", c)
	}
	if c, _ := parseCheckArgs([]string{"bkt"}); c.sample != 100 || c.prefix != "" {
		t.Errorf("defaults: %+v", c)
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"/p"}, {"b", "--sample", "-1"}} {
		if _, err := parseCheckArgs(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
