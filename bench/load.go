package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadMonitor watches the CPU time that processes other than the bench's own use while it runs: on two cores, a test
// suite running beside the bench skews every number, and the report must say so. The bench's own processes are its
// descendants and anything whose command line names its work directory (the server, the mounts, ls).
type loadMonitor struct {
	ownDir string
	self   int

	mu      sync.Mutex
	prev    map[int]uint64 // CPU ticks of each process at the last sample
	other   float64        // CPU-seconds used by other processes since the start
	byName  map[string]float64
	stop    chan struct{}
	stopped chan struct{}
}

const clockTicks = 100

func startLoadMonitor(ownDir string) *loadMonitor {
	m := &loadMonitor{ownDir: ownDir, self: os.Getpid(), byName: map[string]float64{}, stop: make(chan struct{}), stopped: make(chan struct{})}
	m.prev = m.sample(nil)
	go func() {
		defer close(m.stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.mu.Lock()
				m.prev = m.sample(m.prev)
				m.mu.Unlock()
			}
		}
	}()
	return m
}

func (m *loadMonitor) Stop() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
		<-m.stopped
	}
}

// otherSeconds is the CPU time other processes have used since the monitor started, sampled now.
func (m *loadMonitor) otherSeconds() float64 {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prev = m.sample(m.prev)
	return m.other
}

// top lists the other processes that used the most CPU, by command name.
func (m *loadMonitor) top(n int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for k, v := range m.byName {
		if v >= 1 {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return m.byName[names[i]] > m.byName[names[j]] })
	if len(names) > n {
		names = names[:n]
	}
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.0f s", k, m.byName[k]))
	}
	return strings.Join(parts, ", ")
}

type procStat struct {
	comm  string
	ppid  int
	ticks uint64
}

// sample reads every process's CPU ticks, adds what the others used since prev, and returns the new readings.
// A process first seen now counts with all its ticks if prev is not nil (it started since the last sample).
func (m *loadMonitor) sample(prev map[int]uint64) map[int]uint64 {
	entries, _ := os.ReadDir("/proc")
	stats := map[int]procStat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 13 {
			continue
		}
		// After the command: state(0) ppid(1) ... utime(11) stime(12).
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		stats[pid] = procStat{comm: s[open+1 : close], ppid: ppid, ticks: ut + st}
	}
	next := make(map[int]uint64, len(stats))
	for pid, st := range stats {
		next[pid] = st.ticks
		if prev == nil || m.own(pid, stats) {
			continue
		}
		d := st.ticks
		if p, ok := prev[pid]; ok {
			if st.ticks < p {
				continue
			}
			d = st.ticks - p
		}
		if d > 0 {
			sec := float64(d) / clockTicks
			m.other += sec
			m.byName[st.comm] += sec
		}
	}
	return next
}

// own reports whether pid is the bench, one of its descendants, or a process working in its directory.
func (m *loadMonitor) own(pid int, stats map[int]procStat) bool {
	for p, hops := pid, 0; p > 1 && hops < 64; hops++ {
		if p == m.self {
			return true
		}
		p = stats[p].ppid
	}
	if pid == 1 || stats[pid].ppid == 2 || pid == 2 { // init, kernel threads: not "other work"
		return true
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return m.ownDir != "" && strings.Contains(string(cmd), m.ownDir)
}

// waitQuiet waits, at most -quiet-wait, until other processes use less than a quarter of a CPU over a second, so that
// a measurement does not start in the middle of someone else's build or test run. Past -quiet-budget of waiting in
// all, it only samples that second.
func (b *bench) waitQuiet(ctx context.Context) {
	start := time.Now()
	defer func() {
		b.stopMu.Lock()
		b.quietWaited += max(time.Since(start)-time.Second, 0) // the one-second sample is not waiting
		b.stopMu.Unlock()
	}()
	b.stopMu.Lock()
	left := b.cfg.quietBudget - b.quietWaited
	b.stopMu.Unlock()
	deadline := time.Now().Add(min(b.cfg.quietWait, max(left, 0)))
	said := false
	for ctx.Err() == nil {
		w := b.watch()
		time.Sleep(time.Second)
		share := w()
		if share <= otherLoadLimit || time.Now().After(deadline) {
			return
		}
		if !said {
			b.logf("other processes use %.0f%% of a CPU; waiting for them (at most %v, -quiet-wait)", 100*share, b.cfg.quietWait)
			said = true
		}
	}
}

// watch starts watching the CPU that other processes use; the function it returns gives their share of one CPU since.
func (b *bench) watch() func() float64 {
	t0, o0 := time.Now(), b.mon.otherSeconds()
	return func() float64 {
		d := time.Since(t0).Seconds()
		if d <= 0 {
			return 0
		}
		return (b.mon.otherSeconds() - o0) / d
	}
}
