// Package mountinfo answers whether a directory is a mount point, for the integration
// tests and the benchmark, which both mount and unmount for real.
package mountinfo

import (
	"os"
	"strings"
)

// IsMounted reports whether dir is a mount point, from /proc/self/mountinfo.
func IsMounted(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && unescape(fields[4]) == dir {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes of space, tab, newline and backslash.
func unescape(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}
