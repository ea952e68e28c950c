package check

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/keysrc"
)

func TestLiftBlockCommand(t *testing.T) {
	cmd := liftBlockCommand("bkt")
	i := strings.Index(cmd, "'")
	var v any
	if !strings.HasPrefix(cmd, "aws s3api put-bucket-encryption --bucket bkt ") || i < 0 ||
		json.Unmarshal([]byte(strings.Trim(cmd[i:], "'")), &v) != nil {
		t.Errorf("bad command %s", cmd)
	}
}

// Keys that do not load are the first failure, and the verdict says so; nothing is sent.
func TestKeysThatDoNotLoadFail(t *testing.T) {
	var out strings.Builder
	ok := Run(context.Background(), Config{
		Keys:   keysrc.Options{},
		Bucket: bucket.Config{Bucket: "bkt", Endpoint: "https://127.0.0.1:1"},
		Prefix: "some/prefix/",
		Sample: 100,
	}, &out)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if ok || len(lines) != 2 || !strings.HasPrefix(lines[0], "FAILED   keys: no key source") ||
		!strings.HasPrefix(lines[1], "ssecfs check: bkt/some/prefix cannot be used with these keys: keys: no key source") {
		t.Errorf("Run = %v:\n%s", ok, out.String())
	}
}

func TestVerdict(t *testing.T) {
	var out strings.Builder
	r := &report{out: &out}
	r.ok("fine")
	if !r.finish(Config{Bucket: bucket.Config{Bucket: "bkt"}, ReadOnly: true}) ||
		out.String() != "ok       fine\nssecfs check: bkt can be used with these keys (read-only)\n" {
		t.Errorf("verdict:\n%s", out.String())
	}
	out.Reset()
	r.fail("first %d", 1)
	r.fail("second")
	r.detail("more")
	if r.finish(Config{Bucket: bucket.Config{Bucket: "bkt"}, Prefix: "p/"}) ||
		out.String() != "FAILED   first 1\nFAILED   second\n           more\nssecfs check: bkt/p cannot be used with these keys: first 1\n" {
		t.Errorf("verdict:\n%q", out.String())
	}
}
