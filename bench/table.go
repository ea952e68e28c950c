package main

import (
	"fmt"
	"strings"
)

// writeTable writes the results table: a row per workload, a column per tool after the SDK ceiling, then
// ssecfs's ratio to each other column; and, below it, the note on the measurements other work disturbed.
func (b *bench) writeTable(w *strings.Builder) {
	c := b.cfg
	cols := []string{colCeiling}
	cols = append(cols, c.tools...)
	header := append([]string{"Workload", "SDK ceiling"}, c.tools...)
	var ratios [][2]string
	if b.hasTool("ssecfs") {
		ratios = append(ratios, [2]string{"ssecfs", colCeiling})
		for _, t := range c.tools {
			if t != "ssecfs" {
				ratios = append(ratios, [2]string{"ssecfs", t})
			}
		}
	}
	for _, r := range ratios {
		name := r[1]
		if name == colCeiling {
			name = "ceiling"
		}
		header = append(header, "ssecfs/"+name)
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, row := range rowOrder {
		cells := []string{b.rowLabel(row)}
		for _, col := range cols {
			cells = append(cells, b.cellText(row, col))
		}
		for _, r := range ratios {
			cells = append(cells, b.ratio(row, r[0], r[1]))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)

	if d := b.disturbed(cols); d != "" {
		fmt.Fprintf(w, "† Other processes on the machine used more than %.0f%% of a CPU during this measurement: %s.\n\n", 100*otherLoadLimit, d)
	}
}

// cellText is one cell of the table: the value, † if other work disturbed it, and its note; or why there is none.
func (b *bench) cellText(row, col string) string {
	c, ok := b.res.get(row, col)
	switch {
	case !ok && col == colCeiling && row == rowRSS:
		return "n/a"
	case !ok:
		return "not run"
	case !c.ok:
		return "failed: " + c.err
	}
	s := formatValue(row, c.value)
	if c.otherLoad > otherLoadLimit {
		s += " †"
	}
	if c.text != "" {
		s += " " + c.text
	}
	return s
}

// ratio is a/b of two measured cells, "—" if either is missing.
func (b *bench) ratio(row, colA, colB string) string {
	a, okA := b.res.get(row, colA)
	c, okB := b.res.get(row, colB)
	if !okA || !okB || !a.ok || !c.ok || c.value == 0 {
		return "—"
	}
	return formatRatio(a.value / c.value)
}

// disturbed lists the measurements other work disturbed, with the share of a CPU it took.
func (b *bench) disturbed(cols []string) string {
	var out []string
	for _, row := range rowOrder {
		for _, col := range cols {
			if c, ok := b.res.get(row, col); ok && c.otherLoad > otherLoadLimit {
				name := col
				if col == colCeiling {
					name = "SDK ceiling"
				}
				out = append(out, fmt.Sprintf("%s, %s (%.0f%%)", name, rowLabelShort(row), 100*c.otherLoad))
			}
		}
	}
	return strings.Join(out, "; ")
}
