package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A cell is the median of its runs, with their range; a failed run is counted, not averaged in.
func TestSummary(t *testing.T) {
	r := newResults()
	for _, v := range []float64{300, 100, 200} {
		r.add(rowSeqRead, "ssecfs 1.1", cell{ok: true, value: v, text: "run"})
	}
	s, ok := r.get(rowSeqRead, "ssecfs 1.1")
	if !ok || !s.ok || s.value != 200 || s.lo != 100 || s.hi != 300 || s.n != 3 || s.failed != 0 {
		t.Errorf("summary %+v", s)
	}
	if got := seriesText(rowSeqRead, s); got != "200 (100–300)" {
		t.Errorf("seriesText %q", got)
	}
	r.add(rowSeqRead, "ssecfs 2", cell{ok: true, value: 50})
	r.add(rowSeqRead, "ssecfs 2", cell{err: "broken"})
	r.add(rowSeqRead, "ssecfs 2", cell{ok: true, value: 70})
	r.add(rowSeqRead, "ssecfs 2", cell{ok: true, value: 60})
	s, _ = r.get(rowSeqRead, "ssecfs 2")
	if !s.ok || s.value != 60 || s.failed != 1 || s.firstErr != "broken" || s.n != 4 {
		t.Errorf("summary with a failed run %+v", s)
	}
	r.add(rowSeqRead, "s3fs", cell{err: "no"})
	if s, ok := r.get(rowSeqRead, "s3fs"); !ok || s.ok {
		t.Errorf("only failed runs: %+v", s)
	}
	if _, ok := r.get(rowSeqRead, "rclone"); ok {
		t.Error("a column never run has a summary")
	}
	// Of an even count, the lower middle run.
	r.add(rowRand4K, "x", cell{ok: true, value: 1})
	r.add(rowRand4K, "x", cell{ok: true, value: 2})
	if s, _ := r.get(rowRand4K, "x"); s.value != 1 || seriesText(rowRand4K, s) != "1.00 (1.00–2.00)" {
		t.Errorf("even count: %+v", s)
	}
}

// The no-regression verdicts read the ratios of the report being replaced: this format, with its HTTP column, and
// the one before it.
func TestReadBaseline(t *testing.T) {
	dir := t.TempDir()
	current := `| | |
|---|---|
| machine | 2 CPUs |

| Workload | HTTP | SDK ceiling | ssecfs | s3fs | ssecfs/ceiling | ssecfs/s3fs |
|---|---|---|---|---|---|---|
| Sequential read, 1GiB, cold (MiB/s) | 1.1 | 356 | 271 | 350 | 0.76x | 0.77x |
| Random 4 KiB reads, 200 one at a time (reads/s) | 1.1 | 103 (100–110) | 98.1 (90–99) | 68.0 | 0.95x | 1.44x |
|  | 2 | 100 | 87.0 |  | 0.87x |  |
| Random 1 MiB reads, 50 one at a time (reads/s = MiB/s) | 1.1 | 75.6 | 67.8 | 28.1 | 0.90x | 2.41x |
|  | 2 | 75.6 | 60.0 |  | — |  |
`
	previous := `| Workload | SDK ceiling | ssecfs | s3fs | rclone | ssecfs/ceiling | ssecfs/s3fs | ssecfs/rclone |
|---|---|---|---|---|---|---|---|
| Random 4 KiB reads, 200 one at a time (reads/s) | 103 | 98.1 | 68.0 | 54.3 | 0.95x | 1.44x | 1.81x |
| Random 1 MiB reads, 50 one at a time (reads/s = MiB/s) | 75.6 | 67.8 | 28.1 | 34.2 | 0.90x | 2.41x | 1.98x |
`
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bl := readBaseline(write("current.md", current))
	for _, tc := range []struct {
		row, proto string
		want       float64
		known      bool
	}{
		{rowRand4K, "1.1", 0.95, true}, {rowRand4K, "2", 0.87, true}, {rowRand1M, "1.1", 0.90, true}, {rowRand1M, "2", 0, false},
	} {
		got, _, ok := bl.ratio(tc.row, tc.proto)
		if ok != tc.known || got != tc.want {
			t.Errorf("current format, %s over %s: %v, %v; want %v, %v", tc.row, tc.proto, got, ok, tc.want, tc.known)
		}
	}
	bl = readBaseline(write("previous.md", previous))
	if got, _, ok := bl.ratio(rowRand1M, "2"); !ok || got != 0.90 {
		t.Errorf("previous format: %v, %v", got, ok)
	}
	if bl := readBaseline(filepath.Join(dir, "missing.md")); len(bl.ratios) != 0 {
		t.Errorf("a missing file gives %+v", bl)
	}
}
