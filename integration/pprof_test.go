package integration

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchPprof mounts with --pprof-addr and --http-version, once for each version:
// the profiler answers on its address while the mount lives, and its goroutine stacks
// show that the mount's connections to S3 speak the version asked for.
func TestWatchPprof(t *testing.T) {
	f := newFixture(t)
	data := randomBytes(3<<20, 11)
	f.put("obj", data)
	get := func(url string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	for _, version := range []string{"1.1", "2"} {
		addr := freePort(t)
		mp := f.mount("--pprof-addr", addr, "--http-version", version)
		got, err := os.ReadFile(filepath.Join(mp, "obj"))
		if err != nil || string(got) != string(data) {
			t.Fatalf("--http-version %s: read through the mount: %d bytes, %v", version, len(got), err)
		}
		base := "http://" + addr + "/debug/pprof/"
		if code, body := get(base); code != 200 || !strings.Contains(body, "goroutine") || !strings.Contains(body, "heap") {
			t.Errorf("GET %s: %d\n%.300s", base, code, body)
		}
		if code, body := get(base + "heap?debug=1"); code != 200 || !strings.Contains(body, "heap profile") {
			t.Errorf("GET %sheap?debug=1: %d\n%.300s", base, code, body)
		}
		// The connections used for the read stay open, idle: each has a read loop.
		code, stacks := get(base + "goroutine?debug=2")
		h2 := strings.Contains(stacks, "http2ClientConn")
		h1 := strings.Contains(stacks, "persistConn).readLoop")
		if code != 200 || (version == "2") != h2 || (version == "1.1") != h1 {
			t.Errorf("--http-version %s: goroutines show HTTP/2 connections %v, HTTP/1.1 connections %v (status %d)", version, h2, h1, code)
		}
		unmount(t, mp)
		if !pollUntil(20*time.Second, func() bool {
			c := http.Client{Timeout: 2 * time.Second}
			resp, err := c.Get(base)
			if err == nil {
				resp.Body.Close()
			}
			return err != nil
		}) {
			t.Errorf("the profiler still answers at %s after the unmount", addr)
		}
	}
}
