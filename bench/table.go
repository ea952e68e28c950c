package main

import (
	"fmt"
	"slices"
	"strings"
)

// writeTable writes the results table: a row per workload and HTTP version, the SDK ceiling and ssecfs over that
// version, the peers as they are (each on the row of the version it was seen speaking, where it is compared with
// ssecfs), then ssecfs's ratio to each other column; and, below it, the note on the measurements other work disturbed.
func (b *bench) writeTable(w *strings.Builder) {
	c := b.cfg
	var peers []string
	for _, t := range c.tools {
		if t != "ssecfs" {
			peers = append(peers, t)
		}
	}
	header := []string{"Workload", "HTTP", "SDK ceiling"}
	if b.hasTool("ssecfs") {
		header = append(header, "ssecfs")
	}
	header = append(header, peers...)
	if b.hasTool("ssecfs") {
		header = append(header, "ssecfs/ceiling")
		for _, p := range peers {
			header = append(header, "ssecfs/"+p)
		}
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, row := range rowOrder {
		if !b.measures(row) {
			continue
		}
		for i, proto := range c.protocols {
			label := ""
			if i == 0 {
				label = b.rowLabel(row)
			}
			cells := []string{label, proto}
			ceil, ssecfs := colKey(colCeiling, proto), colKey("ssecfs", proto)
			cells = append(cells, b.cellText(row, ceil))
			if b.hasTool("ssecfs") {
				cells = append(cells, b.cellText(row, ssecfs))
			}
			for _, p := range peers {
				if b.peerProto(p) == proto {
					cells = append(cells, b.cellText(row, p))
				} else {
					cells = append(cells, "")
				}
			}
			if b.hasTool("ssecfs") {
				cells = append(cells, b.ratio(row, ssecfs, ceil))
				for _, p := range peers {
					if b.peerProto(p) == proto {
						cells = append(cells, b.ratio(row, ssecfs, p))
					} else {
						cells = append(cells, "")
					}
				}
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	fmt.Fprintln(w)
	if c.runs > 1 {
		fmt.Fprintf(w, "Each cell is the median of %d runs, with their range (min–max) in parentheses; a ratio is of medians. ", c.runs)
	} else {
		fmt.Fprintf(w, "Each cell is one run (-runs 1). ")
	}
	if len(peers) > 0 {
		fmt.Fprintf(w, "The peers run as they are (s3fs speaks HTTP/1.1 through libcurl; rclone what its Go client negotiates), each on the row of the HTTP version it spoke. ")
	}
	fmt.Fprintf(w, "%s\n\n", b.protoNote())

	if d := b.disturbed(); d != "" {
		fmt.Fprintf(w, "† Other processes on the machine used more than %.0f%% of a CPU during this measurement: %s.\n\n", 100*otherLoadLimit, d)
	}
}

// peerProto is the row a peer is shown on: the HTTP version the counting proxy saw it speak, if the run has that
// row, else the first.
func (b *bench) peerProto(peer string) string {
	if v := b.res.protoOf(peer); slices.Contains(b.cfg.protocols, v) {
		return v
	}
	return b.cfg.protocols[0]
}

// protoNote says which HTTP versions the counting proxy saw each column speak.
func (b *bench) protoNote() string {
	var seen []string
	for _, col := range b.cols {
		if v := b.res.protoOf(col.key); v != "" {
			seen = append(seen, fmt.Sprintf("%s HTTP/%s", col.label(), v))
		}
	}
	if len(seen) == 0 {
		return "(The versions spoken are seen by the counting proxy of `ls -l`, which did not run.)"
	}
	return "Seen by the counting proxy during `ls -l`: " + strings.Join(seen, "; ") + "."
}

// cellText is one cell of the table: the median and range, † if other work disturbed a run, the median run's note,
// the runs that failed; or why there is none.
func (b *bench) cellText(row, col string) string {
	s, ok := b.res.get(row, col)
	switch {
	case !ok && strings.HasPrefix(col, colCeiling) && row == rowRSS:
		return "n/a"
	case !ok:
		return "not run"
	case !s.ok:
		if s.n > 1 {
			return fmt.Sprintf("failed (%d of %d runs): %s", s.failed, s.n, s.firstErr)
		}
		return "failed: " + s.firstErr
	}
	t := seriesText(row, s)
	if s.otherLoad > otherLoadLimit {
		t += " †"
	}
	if s.text != "" {
		t += " " + s.text
	}
	if s.failed > 0 {
		t += fmt.Sprintf(" **%d of %d runs failed**: %s", s.failed, s.n, s.firstErr)
	}
	return t
}

// ratio is a/b of the medians of two cells, "—" if either is missing.
func (b *bench) ratio(row, colA, colB string) string {
	a, okA := b.res.get(row, colA)
	c, okB := b.res.get(row, colB)
	if !okA || !okB || !a.ok || !c.ok || c.value == 0 {
		return "—"
	}
	return formatRatio(a.value / c.value)
}

// disturbed lists the measurements other work disturbed, with the share of a CPU it took.
func (b *bench) disturbed() string {
	var out []string
	for _, row := range rowOrder {
		for _, col := range b.cols {
			if s, ok := b.res.get(row, col.key); ok && s.otherLoad > otherLoadLimit {
				out = append(out, fmt.Sprintf("%s, %s (%.0f%%)", col.label(), rowLabelShort(row), 100*s.otherLoad))
			}
		}
	}
	return strings.Join(out, "; ")
}
