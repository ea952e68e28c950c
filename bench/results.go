package main

import (
	"sync"
	"time"
)

// cell is one measurement: a value in the row's unit, or an error.
type cell struct {
	ok    bool
	value float64
	text  string // shown after the value
	err   string
	// otherLoad is the share of one CPU that other processes on the machine used during the measurement.
	otherLoad float64
}

// otherLoadLimit is the share of a CPU used by other work past which a measurement is marked as disturbed.
const otherLoadLimit = 0.25

type rssInfo struct {
	bytes    int64
	workload string
}

type results struct {
	mu     sync.Mutex
	cells  map[string]map[string]cell
	checks map[string][]string
	rss    map[string]rssInfo
}

func newResults() *results {
	return &results{cells: map[string]map[string]cell{}, checks: map[string][]string{}, rss: map[string]rssInfo{}}
}

func (r *results) set(row, col string, c cell) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cells[row] == nil {
		r.cells[row] = map[string]cell{}
	}
	r.cells[row][col] = c
}

func (r *results) get(row, col string) (cell, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cells[row][col]
	return c, ok
}

func (r *results) addCheck(tool, finding string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[tool] = append(r.checks[tool], finding)
}

func (r *results) noteRSS(tool string, bytes int64, workload string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if bytes > r.rss[tool].bytes {
		r.rss[tool] = rssInfo{bytes, workload}
	}
}

func (r *results) rssOf(tool string) rssInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rss[tool]
}

func rate(bytes int64, d time.Duration) cell {
	return cell{value: float64(bytes) / (1 << 20) / d.Seconds()}
}

func opsRate(n int, d time.Duration) cell {
	if d <= 0 {
		d = time.Nanosecond
	}
	return cell{value: float64(n) / d.Seconds()}
}

func (b *bench) record(col, row string, c cell, err error) {
	if row == rowListReq {
		c.otherLoad = 0 // a count, whatever else runs
	}
	if c.otherLoad > otherLoadLimit {
		b.logf("%-7s %-28s warning: other processes used %.0f%% of a CPU meanwhile", col, rowLabelShort(row), 100*c.otherLoad)
	}
	if err != nil {
		c = cell{err: errText(err), otherLoad: c.otherLoad}
		b.logf("%-7s %-28s failed: %s", col, rowLabelShort(row), c.err)
	} else {
		c.ok = true
		b.logf("%-7s %-28s %s %s %s", col, rowLabelShort(row), formatValue(row, c.value), rowUnit(row), c.text)
	}
	b.res.set(row, col, c)
}
