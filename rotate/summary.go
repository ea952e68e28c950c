package rotate

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// summarize prints what happened to results, by key (fps is the working keyring's
// fingerprints: the new key first), and answers whether nothing was left behind.
func summarize(out io.Writer, results []result, fps []string, dryRun bool) bool {
	type tally struct {
		n     int
		bytes int64
	}
	byKey := make([]tally, len(fps))
	var nAlready, nGone int
	var left, broken []result
	for _, r := range results {
		switch r.outcome {
		case rotated:
			byKey[r.fromKey].n++
			byKey[r.fromKey].bytes += r.size
		case already:
			nAlready++
		case gone:
			nGone++
		case unreadable:
			left = append(left, r)
		case failed:
			broken = append(broken, r)
		}
	}
	nRotated, rotatedBytes := 0, int64(0)
	for i := 1; i < len(fps); i++ {
		nRotated += byKey[i].n
		rotatedBytes += byKey[i].bytes
	}
	if dryRun {
		for i := 1; i < len(fps); i++ {
			if byKey[i].n > 0 {
				fmt.Fprintf(out, "would rotate %d objects (%s) from key %s\n", byKey[i].n, humanBytes(byKey[i].bytes), fps[i])
			}
		}
		fmt.Fprintf(out, "would rotate %d objects (%s) in all to key %s\n", nRotated, humanBytes(rotatedBytes), fps[0])
	} else {
		keysUsed := 0
		for i := 1; i < len(fps); i++ {
			if byKey[i].n > 0 {
				keysUsed++
				fmt.Fprintf(out, "rotated %d objects (%s) from key %s to key %s\n", byKey[i].n, humanBytes(byKey[i].bytes), fps[i], fps[0])
			}
		}
		if keysUsed != 1 {
			fmt.Fprintf(out, "rotated %d objects (%s) in all to key %s\n", nRotated, humanBytes(rotatedBytes), fps[0])
		}
	}
	fmt.Fprintf(out, "%d objects already under key %s\n", nAlready, fps[0])
	if nGone > 0 {
		fmt.Fprintf(out, "%d objects deleted during the run\n", nGone)
	}
	sortByName := func(a, b result) int { return strings.Compare(a.entry.Key, b.entry.Key) }
	slices.SortFunc(left, sortByName)
	slices.SortFunc(broken, sortByName)
	fmt.Fprintf(out, "%d objects under no key (left untouched)", len(left))
	if len(left) > 0 {
		fmt.Fprint(out, ":")
	}
	fmt.Fprintln(out)
	for _, r := range left {
		fmt.Fprintf(out, "  %s (%s)\n", r.entry.Key, r.reason)
	}
	if !dryRun || len(broken) > 0 {
		fmt.Fprintf(out, "%d objects failed", len(broken))
		if len(broken) > 0 {
			fmt.Fprint(out, ":")
		}
		fmt.Fprintln(out)
		for _, r := range broken {
			fmt.Fprintf(out, "  %s: %s\n", r.entry.Key, r.reason)
		}
	}
	return len(left) == 0 && len(broken) == 0
}
