package main

import (
	"fmt"
	"strings"
)

// colName is a column as the verdicts name it: "SDK ceiling", or the peer.
func colName(col string) string {
	if strings.HasPrefix(col, colCeiling) {
		return "SDK ceiling"
	}
	return col
}

// verdicts are issue 12's targets, each met or missed, with the numbers: for every HTTP version, ssecfs against the
// SDK ceiling over that version; once, ssecfs over the first version against s3fs, and the request count of ls -l.
func (b *bench) verdicts() string {
	var w strings.Builder
	line := func(name string, met, known bool, detail string) {
		state := "MET   "
		if !known {
			state = "N/A   "
		} else if !met {
			state = "MISSED"
		}
		fmt.Fprintf(&w, "%s %s: %s\n", state, name, detail)
	}
	if !b.hasTool("ssecfs") {
		line("every target", false, false, "ssecfs was not measured (-tools)")
		return w.String()
	}
	// compare checks ssecfs's median on row against want times col's: at least (or, for less-is-better rows, at most).
	compare := func(name, row, ssecfs, col string, want float64) (ratio float64, ok bool) {
		if !b.measures(row) {
			return 0, false
		}
		s, okS := b.res.get(row, ssecfs)
		c, okC := b.res.get(row, col)
		switch {
		case !okS || !okC || !s.ok || !c.ok || c.value == 0:
			line(name, false, false, fmt.Sprintf("ssecfs %s; %s %s", b.cellText(row, ssecfs), colName(col), b.cellText(row, col)))
			return 0, false
		case s.failed > 0:
			line(name, false, true, fmt.Sprintf("%d of %d runs of ssecfs failed: %s", s.failed, s.n, s.firstErr))
			return 0, false
		}
		ratio = s.value / c.value
		met, op := ratio >= want, ">="
		if lessIsBetter(row) {
			met, op = ratio <= want, "<="
		}
		line(name, met, true, fmt.Sprintf("ssecfs %s %s, %s %s %s = %s (want %s %.2gx)",
			seriesText(row, s), rowUnit(row), colName(col), seriesText(row, c), rowUnit(row), formatRatio(ratio), op, want))
		return ratio, true
	}
	jobs := b.cfg.copyJobs
	for _, p := range b.cfg.protocols {
		ssecfs, ceil := colKey("ssecfs", p), colKey(colCeiling, p)
		tag := "[HTTP/" + p + "] "
		compare(tag+"large-file sequential read >= 0.9x the SDK ceiling", rowSeqRead, ssecfs, ceil, 0.9)
		compare(tag+"large-file sequential write >= 0.9x the SDK ceiling", rowSeqWrite, ssecfs, ceil, 0.9)
		compare(tag+fmt.Sprintf("dataset `cp -r` out >= 0.7x the SDK's %d-at-once tree download", jobs), rowTreeOut, ssecfs, ceil, 0.7)
		compare(tag+fmt.Sprintf("%d `cp` at once >= 0.85x the SDK's %d-at-once tree download", jobs, jobs), rowTreePar, ssecfs, ceil, 0.85)
		compare(tag+fmt.Sprintf("small files `cp -r` out >= 0.5x the SDK's %d-at-once GETs", jobs), rowSmallTree, ssecfs, ceil, 0.5)
		compare(tag+fmt.Sprintf("`cp -r` in >= 0.8x the SDK's %d-at-once PUTs", jobs), rowTreeIn, ssecfs, ceil, 0.8)
		compare(tag+"client CPU per GiB read <= 1.2x the SDK ceiling's", rowCPU, ssecfs, ceil, 1.2)
		for _, row := range []string{rowRand4K, rowRand1M} {
			name := tag + "no regression on " + noRegressionRows[row] + ": >= 0.8x single keyed GETs"
			want := 0.8
			earlier, where, known := b.base.ratio(row, p)
			if known {
				want = max(want, regressionSlack*earlier)
				name += fmt.Sprintf(" and >= %.1fx the earlier %.2fx (%s, %s)", regressionSlack, earlier, b.base.file, where)
			}
			compare(name, row, ssecfs, ceil, want)
		}
		name := tag + "peak RSS <= cache-size + write-buffer + 64 MiB"
		if r := b.res.rssOf(ssecfs); r.bytes > 0 {
			line(name, r.bytes <= b.rssBound(), true, fmt.Sprintf("%s (%s) vs %s", formatMiB(r.bytes), r.workload, formatMiB(b.rssBound())))
		} else {
			line(name, false, false, "not measured")
		}
	}
	first := colKey("ssecfs", b.cfg.protocols[0])
	if b.hasTool("s3fs") {
		p := b.peerProto("s3fs")
		compare(fmt.Sprintf("[HTTP/%s] large-file sequential read >= 1.3x s3fs", p), rowSeqRead, colKey("ssecfs", p), "s3fs", 1.3)
	}
	if b.measures(rowListReq) {
		name := fmt.Sprintf("`ls -l` of %s entries in <= 12 requests", commas(int64(b.cfg.listFiles)))
		if s, ok := b.res.get(rowListReq, first); ok && s.ok {
			line(name, s.value <= 12, true, b.cellText(rowListReq, first))
		} else {
			line(name, false, false, b.cellText(rowListReq, first))
		}
	}
	return w.String()
}
