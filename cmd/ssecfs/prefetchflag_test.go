package main

import "testing"

// --prefetch-files N reaches the tree as N, 0 as "off" (the tree's negative), and a
// value out of range is refused; -o prefetch_files=N says the same.
func TestPrefetchFilesFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 16},
		{[]string{"--prefetch-files", "0"}, -1},
		{[]string{"--prefetch-files", "32"}, 32},
		{[]string{"-o", "prefetch_files=3"}, 3},
	} {
		c := configOf(t, append(append([]string{"--key-file", "/k"}, tc.args...), "b", "/mnt")...)
		if got := prefetchFiles(c.prefetchFiles); got != tc.want {
			t.Errorf("%q: the tree is told %d; want %d", tc.args, got, tc.want)
		}
	}
	for _, bad := range []string{"-1", "100000"} {
		if _, _, err := parseMountArgs([]string{"--key-file", "/k", "--prefetch-files", bad, "b", "/mnt"}); err == nil {
			t.Errorf("--prefetch-files %s was accepted", bad)
		}
	}
}
