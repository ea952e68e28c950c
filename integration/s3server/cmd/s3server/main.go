// Command s3server runs a local SeaweedFS S3 server over TLS for `make demo` until SIGINT or SIGTERM.
//
//	s3server -dir DIR [-bucket NAME] [-env-file FILE] [-seed KEYFILE]
//
// It starts the server with its data in DIR, creates the bucket, writes a shell-sourceable file of the variables a
// client needs (AWS_ENDPOINT_URL, credentials, region, SSECFS_CA_BUNDLE, ...), prints "S3 server ready at URL" and
// waits. On SIGINT/SIGTERM it stops weed and exits; weed never outlives it (it dies with us even on SIGKILL).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssecfs/ssecfs/integration/s3server"
)

func main() {
	dir := flag.String("dir", "", "data directory for the server (required; best empty)")
	bucket := flag.String("bucket", "", "bucket to create (optional)")
	envFile := flag.String("env-file", "", "write shell-sourceable environment variables for clients here (optional)")
	seedKeys := flag.String("seed", "", "write a few demo objects into -bucket, SSE-C encrypted with the first key of this key file (optional)")
	flag.Parse()
	if *dir == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: s3server -dir DIR [-bucket NAME] [-env-file FILE]")
		os.Exit(2)
	}
	if *seedKeys != "" && *bucket == "" {
		fmt.Fprintln(os.Stderr, "s3server: -seed needs -bucket")
		os.Exit(2)
	}
	os.Exit(run(*dir, *bucket, *envFile, *seedKeys))
}

func run(dir, bucket, envFile, seedKeys string) int {
	// Catch signals before weed exists, so a Ctrl-C during startup still stops it.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	type started struct {
		s   *s3server.Server
		err error
	}
	ch := make(chan started, 1)
	go func() {
		s, err := s3server.Start(dir)
		ch <- started{s, err}
	}()
	var s *s3server.Server
	select {
	case r := <-ch:
		if r.err != nil {
			fmt.Fprintln(os.Stderr, r.err)
			return 1
		}
		s = r.s
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "s3server: %v during startup\n", sig)
		if r := <-ch; r.s != nil { // Start is bounded (about a minute)
			_ = r.s.Stop()
		}
		return 1
	}

	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "s3server:", err)
		}
		return 1
	}
	if bucket != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.CreateBucket(ctx, bucket)
		cancel()
		var owned *types.BucketAlreadyOwnedByYou
		if err != nil && !errors.As(err, &owned) {
			return fail(err)
		}
	}
	if seedKeys != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := seed(ctx, s, bucket, seedKeys)
		cancel()
		if err != nil {
			return fail(err)
		}
	}
	if envFile != "" {
		if err := writeEnvFile(envFile, s); err != nil {
			return fail(err)
		}
	}
	fmt.Printf("S3 server ready at %s\n", s.Endpoint)

	select {
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "s3server: %v, stopping\n", sig)
	case <-s.Done():
		fmt.Fprintf(os.Stderr, "s3server: weed exited unexpectedly; tail of %s:\n%s\n",
			filepath.Join(s.Dir, "weed.log"), s.LogTail(40))
		_ = s.Stop()
		return 1
	}
	// A second signal while stopping kills weed at once.
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			fmt.Fprintln(os.Stderr, "s3server:", err)
			return 1
		}
	case <-sigs:
		_ = s.Kill()
		<-stopped
	}
	return 0
}

// writeEnvFile writes export lines for the server's endpoint, credentials and CA, atomically and readable by the owner
// only (it holds the secret key).
func writeEnvFile(path string, s *s3server.Server) error {
	var b strings.Builder
	b.WriteString("# S3 server for ssecfs (written by integration/s3server/cmd/s3server); source this file.\n")
	vars := append([]string{
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"SSECFS_CA_BUNDLE=" + s.CAFile,
	}, s.Env()...)
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
