package main

import (
	"fmt"
	"strings"
)

// verdicts are the targets, each met or missed, with the numbers.
func (b *bench) verdicts() string {
	var w strings.Builder
	val := func(row, col string) (float64, bool) {
		c, ok := b.res.get(row, col)
		return c.value, ok && c.ok
	}
	line := func(name string, met bool, known bool, detail string) {
		state := "MET   "
		if !known {
			state = "N/A   "
		} else if !met {
			state = "MISSED"
		}
		fmt.Fprintf(&w, "%s %s: %s\n", state, name, detail)
	}
	ratioTo := func(row, col string, want float64, name string) {
		s, okS := val(row, "ssecfs")
		c, okC := val(row, col)
		if !okS || !okC {
			line(name, false, false, fmt.Sprintf("ssecfs %s, %s %s", b.cellText(row, "ssecfs"), col, b.cellText(row, col)))
			return
		}
		line(name, s >= want*c, true, fmt.Sprintf("ssecfs %s %s, %s %s %s = %.2fx (want >= %.2gx)",
			formatValue(row, s), rowUnit(row), col, formatValue(row, c), rowUnit(row), s/c, want))
	}
	ratioTo(rowSeqRead, colCeiling, 0.9, "seq read >= 0.9 x SDK ceiling")
	ratioTo(rowSeqWrite, colCeiling, 0.9, "seq write >= 0.9 x SDK ceiling")
	for _, peer := range []string{"s3fs", "rclone"} {
		if b.hasTool(peer) {
			ratioTo(rowSeqRead, peer, 2, "seq read >= 2x "+peer)
		}
	}
	for _, peer := range []string{"s3fs", "rclone"} {
		if !b.hasTool(peer) {
			continue
		}
		s, okS := val(rowSeqWrite, "ssecfs")
		p, okP := val(rowSeqWrite, peer)
		name := "seq write ahead of " + peer
		if !okS {
			line(name, false, false, "ssecfs "+b.cellText(rowSeqWrite, "ssecfs"))
		} else if !okP {
			// A peer that cannot write SSE-C at all is behind, by definition.
			line(name, true, true, fmt.Sprintf("ssecfs %s MiB/s, %s %s", formatValue(rowSeqWrite, s), peer, b.cellText(rowSeqWrite, peer)))
		} else {
			line(name, s > p, true, fmt.Sprintf("ssecfs %s MiB/s, %s %s MiB/s = %.2fx", formatValue(rowSeqWrite, s), peer, formatValue(rowSeqWrite, p), s/p))
		}
	}
	ratioTo(rowRand4K, colCeiling, 0.8, "random 4 KiB >= 0.8 x single keyed 4 KiB GETs")
	if r, ok := val(rowListReq, "ssecfs"); ok {
		line(fmt.Sprintf("ls -l of %s in <= 12 requests", commas(int64(b.cfg.listFiles))), r <= 12, true, b.cellText(rowListReq, "ssecfs"))
	} else {
		line("ls -l in <= 12 requests", false, false, b.cellText(rowListReq, "ssecfs"))
	}
	if r := b.res.rssOf("ssecfs"); r.bytes > 0 {
		line("peak RSS <= cache-size + write-buffer + 64 MiB", r.bytes <= b.rssBound(), true,
			fmt.Sprintf("%s (%s) vs %s", formatMiB(r.bytes), r.workload, formatMiB(b.rssBound())))
	} else {
		line("peak RSS <= cache-size + write-buffer + 64 MiB", false, false, "not measured")
	}
	return w.String()
}
