package main

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// cell is one run of one workload in one column: a value in the row's unit, or an error.
type cell struct {
	ok    bool
	value float64
	text  string // shown after the value
	err   string
	// otherLoad is the share of one CPU that other processes on the machine used during the measurement.
	otherLoad float64
}

// summary is what the table shows of a (row, column): the median of its runs, their range, the note of the median
// run, and the runs that failed. ok is false when no run succeeded.
type summary struct {
	ok             bool
	value          float64 // the median
	lo, hi         float64
	n, failed      int
	text, firstErr string
	otherLoad      float64 // the largest share of a CPU other work took during a run
}

// otherLoadLimit is the share of a CPU used by other work past which a measurement is marked as disturbed.
const otherLoadLimit = 0.25

type rssInfo struct {
	bytes    int64
	workload string
}

type results struct {
	mu     sync.Mutex
	runs   map[string]map[string][]cell
	checks map[string][]string
	rss    map[string]rssInfo
	protos map[string]string // the HTTP versions each column spoke through the counting proxy
}

func newResults() *results {
	return &results{runs: map[string]map[string][]cell{}, checks: map[string][]string{}, rss: map[string]rssInfo{}, protos: map[string]string{}}
}

func (r *results) noteProto(col, versions string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.protos[col] = versions
}

func (r *results) protoOf(col string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.protos[col]
}

// add records one run of row in col.
func (r *results) add(row, col string, c cell) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs[row] == nil {
		r.runs[row] = map[string][]cell{}
	}
	r.runs[row][col] = append(r.runs[row][col], c)
}

// set replaces every run of row in col by c (a value derived from others, like the peak RSS).
func (r *results) set(row, col string, c cell) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs[row] == nil {
		r.runs[row] = map[string][]cell{}
	}
	r.runs[row][col] = []cell{c}
}

// get summarizes the runs of row in col; false if there were none.
func (r *results) get(row, col string) (summary, bool) {
	r.mu.Lock()
	runs := append([]cell(nil), r.runs[row][col]...)
	r.mu.Unlock()
	if len(runs) == 0 {
		return summary{}, false
	}
	s := summary{n: len(runs)}
	var good []cell
	for _, c := range runs {
		s.otherLoad = max(s.otherLoad, c.otherLoad)
		if c.ok {
			good = append(good, c)
		} else {
			s.failed++
			if s.firstErr == "" {
				s.firstErr = c.err
			}
		}
	}
	if len(good) == 0 {
		return s, true
	}
	sort.SliceStable(good, func(i, j int) bool { return good[i].value < good[j].value })
	s.ok = true
	s.lo, s.hi = good[0].value, good[len(good)-1].value
	// The median; of an even count, the lower middle run, so that the value shown is a run that happened.
	m := good[(len(good)-1)/2]
	s.value, s.text = m.value, m.text
	return s, true
}

func (r *results) addCheck(tool, finding string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[tool] = append(r.checks[tool], finding)
}

func (r *results) noteRSS(col string, bytes int64, workload string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if bytes > r.rss[col].bytes {
		r.rss[col] = rssInfo{bytes, workload}
	}
}

func (r *results) rssOf(col string) rssInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rss[col]
}

func rate(bytes int64, d time.Duration) cell {
	if d <= 0 {
		d = time.Nanosecond
	}
	return cell{value: float64(bytes) / (1 << 20) / d.Seconds()}
}

func opsRate(n int, d time.Duration) cell {
	if d <= 0 {
		d = time.Nanosecond
	}
	return cell{value: float64(n) / d.Seconds()}
}

// record notes one run of row in col, and logs it.
func (b *bench) record(col, row string, c cell, err error) {
	if row == rowListReq {
		c.otherLoad = 0 // a count, whatever else runs
	}
	if c.otherLoad > otherLoadLimit {
		b.logf("%-11s %-30s warning: other processes used %.0f%% of a CPU meanwhile", col, rowLabelShort(row), 100*c.otherLoad)
	}
	if err != nil {
		c = cell{err: errText(err), otherLoad: c.otherLoad}
		b.logf("%-11s %-30s failed: %s", col, rowLabelShort(row), c.err)
	} else {
		c.ok = true
		b.logf("%-11s %-30s %s %s %s", col, rowLabelShort(row), formatValue(row, c.value), rowUnit(row), c.text)
	}
	b.res.add(row, col, c)
}

// seriesText is "271 (265–280)": the median and, of several runs, their range.
func seriesText(row string, s summary) string {
	t := formatValue(row, s.value)
	if s.n-s.failed > 1 {
		t += fmt.Sprintf(" (%s–%s)", formatValue(row, s.lo), formatValue(row, s.hi))
	}
	return t
}
