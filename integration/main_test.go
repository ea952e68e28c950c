package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ssecfs/ssecfs/integration/s3server"
)

var (
	// ssecfsBin is the binary under test, built once per run.
	ssecfsBin string
	// shared is the S3 server most tests use, each with a bucket of its own; tests
	// that stop or kill a server start their own.
	shared *s3server.Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if msg := missingPrerequisite(); msg != "" {
		fmt.Fprintln(os.Stderr, "integration tests cannot run:", msg)
		return 1
	}
	tmp, err := os.MkdirTemp("", "ssecfs-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// Readable by the unprivileged user of the non-root mount test.
	os.Chmod(tmp, 0o755)

	ssecfsBin = filepath.Join(tmp, "ssecfs")
	build := exec.Command("go", "build", "-race", "-o", ssecfsBin, "../cmd/ssecfs")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ssecfs: %v\n%s", err, out)
		return 1
	}
	if _, err := s3server.WeedBinary(); err != nil {
		fmt.Fprintln(os.Stderr, "the SeaweedFS test server is missing and could not be built (run scripts/build-weed.sh):", err)
		return 1
	}
	shared, err = s3server.Start(filepath.Join(tmp, "s3"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the S3 test server:", err)
		return 1
	}
	defer shared.Stop()
	return m.Run()
}

// missingPrerequisite says what to install when the machine cannot mount FUSE.
func missingPrerequisite() string {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return "/dev/fuse is missing: load the fuse module (modprobe fuse) or run the container with --device /dev/fuse"
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		return "fusermount3 is missing: install the fuse3 package (apt-get install fuse3), or run make test, which does"
	}
	if os.Geteuid() != 0 {
		return "the integration tests run as root (they mount with mount(2) and test the unprivileged path with another user)"
	}
	return ""
}
