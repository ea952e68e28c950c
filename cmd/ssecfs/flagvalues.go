package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ssecfs/ssecfs/bucket"
)

// byteSize is a flag value like "256MiB", "1GiB", "64M", "2TB" or "1048576".
type byteSize int64

func (b *byteSize) String() string { return formatBytes(int64(*b)) }

func (b *byteSize) Type() string { return "SIZE" }

func (b *byteSize) Set(s string) error {
	v, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

// sizeUnitsHelp describes what parseBytes accepts, for --help.
const sizeUnitsHelp = "SIZE is a number of bytes, or a whole number followed by KiB, MiB, GiB, TiB, PiB\n" +
	"(or K, M, G, T, P: powers of 1024) or KB, MB, GB, TB, PB (powers of 1000), e.g. 256MiB."

// sizeUnits are tried in order, so a suffix comes before the shorter ones it ends with
// ("MiB" and "MB" before "B").
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"P", 1 << 50}, {"B", 1},
}

// maxBytes bounds sizes well below what an int64 holds, so sums of a few sizes (the
// memory limit adds three) cannot overflow either.
const maxBytes = 1 << 62

func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	// v <= maxBytes/mult (rounded down) keeps v*mult <= maxBytes: no overflow.
	if err != nil || v < 0 || v > maxBytes/mult {
		return 0, fmt.Errorf("%q is not a size; write it like 256MiB, 1GiB, 2TB or 1048576", s)
	}
	return v * mult, nil
}

// formatBytes writes n with the largest binary unit that divides it, so parseBytes
// reads it back exactly.
func formatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return fmt.Sprintf("%d%s", n/u.mult, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

// fileMode is an octal permission flag value such as 0644.
type fileMode uint32

func (m *fileMode) String() string { return fmt.Sprintf("%04o", uint32(*m)) }

func (m *fileMode) Type() string { return "MODE" }

func (m *fileMode) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return fmt.Errorf("%q is not an octal permission mode like 0644", s)
	}
	*m = fileMode(v)
	return nil
}

// httpVersion is --http-version: auto, 1.1 or 2.
type httpVersion bucket.HTTPVersion

func (v *httpVersion) String() string { return bucket.HTTPVersion(*v).String() }

func (v *httpVersion) Type() string { return "VERSION" }

func (v *httpVersion) Set(s string) error {
	parsed, err := bucket.ParseHTTPVersion(s)
	if err != nil {
		return err
	}
	*v = httpVersion(parsed)
	return nil
}
