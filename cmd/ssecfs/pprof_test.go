package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestPprofAndHTTPVersionFlags(t *testing.T) {
	c := configOf(t, "--pprof-addr", "127.0.0.1:6060", "--http-version", "1.1", "b", "/m")
	if c.pprofAddr != "127.0.0.1:6060" {
		t.Errorf("--pprof-addr: %q", c.pprofAddr)
	}
	if v := c.config(c.bucket).HTTPVersion; v != "1.1" {
		t.Errorf("--http-version 1.1 gives bucket.Config.HTTPVersion %q", v)
	}
	plain := configOf(t, "b", "/m")
	if plain.pprofAddr != "" || plain.config(plain.bucket).HTTPVersion != "" {
		t.Errorf("defaults: pprof %q, HTTP version %q; want off and auto", plain.pprofAddr, plain.config(plain.bucket).HTTPVersion)
	}
	if c := configOf(t, "-o", "http_version=2,pprof_addr=localhost:0", "b", "/m"); c.httpVersion != "2" || c.pprofAddr != "localhost:0" {
		t.Errorf("-o http_version=2,pprof_addr=localhost:0: %q, %q", c.httpVersion, c.pprofAddr)
	}
	for _, cmd := range [][]string{{"check", "--http-version", "2", "b"}, {"rotate", "--http-version", "2", "--from-key-file", "o", "--key-file", "n", "b"}} {
		var v httpVersion
		switch cmd[0] {
		case "check":
			cc, err := parseCheckArgs(cmd[1:])
			if err != nil {
				t.Fatal(err)
			}
			v = cc.httpVersion
		case "rotate":
			rc, err := parseRotateArgs(cmd[1:])
			if err != nil {
				t.Fatal(err)
			}
			v = rc.httpVersion
		}
		if v != "2" {
			t.Errorf("%q: HTTP version %q", cmd, v)
		}
	}
	code, _, stderr := runForTest(t, "mount", "--http-version", "3", "b", "/m")
	if code != 2 || !strings.Contains(stderr, `--http-version 3: "3" is not an HTTP version: want auto, 1.1 or 2`) {
		t.Errorf("--http-version 3: exit %d, %q", code, stderr)
	}
}

// The profiler answers on its own mux, and says where; it is not the default mux.
func TestServePprof(t *testing.T) {
	var log bytes.Buffer
	stop, err := servePprof("127.0.0.1:0", slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	url := strings.TrimSuffix(strings.Fields(strings.SplitN(log.String(), "url=", 2)[1])[0], "\n")
	if strings.Contains(log.String(), "beyond loopback") {
		t.Errorf("warned of a loopback address: %s", log.String())
	}
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(url); code != 200 || !strings.Contains(body, "goroutine") || !strings.Contains(body, "heap") {
		t.Errorf("GET %s: %d\n%s", url, code, body)
	}
	if code, body := get(url + "goroutine?debug=1"); code != 200 || !strings.Contains(body, "servePprof") {
		t.Errorf("GET %sgoroutine?debug=1: %d\n%.500s", url, code, body)
	}
	http.DefaultServeMux.HandleFunc("/only-on-the-default-mux", func(w http.ResponseWriter, r *http.Request) {})
	if code, _ := get(strings.TrimSuffix(url, "/debug/pprof/") + "/only-on-the-default-mux"); code != 404 {
		t.Errorf("the default mux is served: %d", code)
	}
	stop()
	if _, err := http.Get(url); err == nil {
		t.Error("still served after stop")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:6060": true, "[::1]:6060": true, "127.3.4.5:1": true,
		"0.0.0.0:6060": false, "[::]:6060": false, "192.168.1.2:6060": false, "10.0.0.1:80": false,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLoopback(a); got != want {
			t.Errorf("isLoopback(%s) = %v", addr, got)
		}
	}
}
