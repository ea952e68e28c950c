package rotate

import (
	"bytes"
	"strings"
	"testing"
)

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 12 << 20: "12.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 10, 10<<20)
	if p.terminal {
		t.Fatal("a buffer is not a terminal")
	}
	p.start()
	p.add(1 << 20)
	p.add(1 << 20)
	line := p.line()
	p.stop()
	if !strings.HasPrefix(line, "objects 2/10, 2.0 MiB/10.0 MiB, ") || !strings.Contains(line, "MiB/s, ETA ") {
		t.Errorf("progress line %q", line)
	}
}
