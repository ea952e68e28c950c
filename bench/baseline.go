package main

import (
	"os"
	"strconv"
	"strings"
)

// baseline is what an earlier report (-baseline, else the -out file it replaces) measured: ssecfs's ratio to the SDK
// ceiling on the rows the no-regression verdicts watch, by HTTP version ("" when that report had one version only).
type baseline struct {
	file   string
	ratios map[string]map[string]float64 // row -> HTTP version -> ssecfs/ceiling
}

// noRegressionRows are the rows whose ratio must not fall below the earlier report's.
var noRegressionRows = map[string]string{
	rowRand4K: "Random 4 KiB reads",
	rowRand1M: "Random 1 MiB reads",
}

// regressionSlack is the share of the earlier ratio a run may lose to noise before it counts as a regression.
const regressionSlack = 0.9

// readBaseline reads the results table of a report written by this program (this version or the one before, which
// had no HTTP column); a missing or unreadable file gives an empty baseline.
func readBaseline(path string) baseline {
	bl := baseline{file: path, ratios: map[string]map[string]float64{}}
	if path == "" {
		return bl
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return bl
	}
	var header []string
	label := ""
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header == nil {
			header = cells
			continue
		}
		col := func(name string) string {
			for i, h := range header {
				if h == name && i < len(cells) {
					return cells[i]
				}
			}
			return ""
		}
		if len(cells) > 0 && cells[0] != "" {
			label = cells[0]
		}
		ratio, err := strconv.ParseFloat(strings.TrimSuffix(col("ssecfs/ceiling"), "x"), 64)
		if err != nil {
			continue
		}
		for row, prefix := range noRegressionRows {
			if strings.HasPrefix(label, prefix) {
				if bl.ratios[row] == nil {
					bl.ratios[row] = map[string]float64{}
				}
				bl.ratios[row][col("HTTP")] = ratio
			}
		}
	}
	return bl
}

// ratio is the earlier ratio of row over proto: of that version if the report had it, else of its only version.
func (bl baseline) ratio(row, proto string) (float64, string, bool) {
	byProto := bl.ratios[row]
	if r, ok := byProto[proto]; ok {
		return r, "HTTP/" + proto, true
	}
	if r, ok := byProto[""]; ok {
		return r, "one HTTP version, ALPN's choice", true
	}
	return 0, "", false
}
