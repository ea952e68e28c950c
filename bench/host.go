package main

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/ssecfs/ssecfs/integration/s3server"
)

// What the report says of the machine and of the software measured.

// machine describes the host: CPUs, memory, kernel.
func machine() string {
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				mem = fmt.Sprintf("%.1f GiB memory", float64(kb)/(1<<20))
			}
		}
	}
	kernel := strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	s := fmt.Sprintf("%d CPUs", runtime.NumCPU())
	if model != "" {
		s += " (" + model + ")"
	}
	return fmt.Sprintf("%s, %s, Linux %s (`uname -r`)", s, mem, kernel)
}

// collectVersions notes the versions of the server, the peers and ssecfs.
func (b *bench) collectVersions() {
	b.cfg.peerVersions = map[string]string{}
	first := func(name string, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil && len(out) == 0 {
			return "unknown (" + errText(err) + ")"
		}
		return strings.TrimSpace(strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0])
	}
	b.cfg.weedVersion = "unknown"
	if bin, err := s3server.WeedBinary(); err == nil {
		b.cfg.weedVersion = strings.TrimPrefix(first(bin, "version"), "version ")
	}
	for _, t := range b.cfg.tools {
		switch t {
		case "s3fs":
			b.cfg.peerVersions[t] = first("s3fs", "--version")
		case "rclone":
			b.cfg.peerVersions[t] = first("rclone", "version")
		}
	}
	b.cfg.ssecfsVersion = "ssecfs"
	rev, modified := "", false
	if info, err := buildinfo.ReadFile(b.cfg.ssecfsBin); err == nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		// Built with -buildvcs=false: ask git (read-only; GIT_OPTIONAL_LOCKS=0 keeps status from refreshing the
		// index). The binary is assumed built from the work tree as it is now (make bench builds it first).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output(); err == nil {
			rev = strings.TrimSpace(string(out))
			st := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no", "--", "*.go", ":!bench")
			st.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
			if out, err := st.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
				modified = true
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		b.cfg.ssecfsVersion = "commit " + rev
		if modified {
			b.cfg.ssecfsVersion += " with uncommitted changes"
		}
	}
}
