package rotate

import (
	"strings"
	"testing"

	"github.com/ssecfs/ssecfs/bucket"
)

func res(key string, o outcome, from int, size int64, reason string) result {
	return result{entry: bucket.Entry{Key: key, Size: size}, outcome: o, fromKey: from, size: size, reason: reason}
}

func TestSummary(t *testing.T) {
	fps := []string{"NEW", "OLD1", "OLD2"}
	results := []result{
		res("a", rotated, 1, 1024, ""),
		res("b", rotated, 1, 1024, ""),
		res("c", rotated, 2, 10, ""),
		res("d", already, 0, 5, ""),
		res("e", gone, 0, 0, ""),
		res("z", unreadable, 0, 3, "no key opens it"),
		res("y", unreadable, 0, 3, "not SSE-C encrypted"),
		res("x", failed, 1, 3, "CopyObject \"x\": 500 InternalError"),
	}
	var out strings.Builder
	if summarize(&out, results, fps, false) {
		t.Error("a rotation that left objects behind answered true")
	}
	want := `rotated 2 objects (2.0 KiB) from key OLD1 to key NEW
rotated 1 objects (10 B) from key OLD2 to key NEW
rotated 3 objects (2.0 KiB) in all to key NEW
1 objects already under key NEW
1 objects deleted during the run
2 objects under no key (left untouched):
  y (not SSE-C encrypted)
  z (no key opens it)
1 objects failed:
  x: CopyObject "x": 500 InternalError
`
	if out.String() != want {
		t.Errorf("summary\n%s\nwant\n%s", out.String(), want)
	}

	// One old key: no "in all" line. Nothing left behind: true.
	out.Reset()
	oneOld := []result{results[0], results[1], results[3]}
	if !summarize(&out, oneOld, fps[:2], false) {
		t.Error("a complete rotation answered false")
	}
	want = `rotated 2 objects (2.0 KiB) from key OLD1 to key NEW
1 objects already under key NEW
0 objects under no key (left untouched)
0 objects failed
`
	if out.String() != want {
		t.Errorf("summary\n%s\nwant\n%s", out.String(), want)
	}

	// A dry run says what it would do, and has no failures to report.
	out.Reset()
	if !summarize(&out, results[:4], fps, true) {
		t.Error("a dry run with every object readable answered false")
	}
	want = `would rotate 2 objects (2.0 KiB) from key OLD1
would rotate 1 objects (10 B) from key OLD2
would rotate 3 objects (2.0 KiB) in all to key NEW
1 objects already under key NEW
0 objects under no key (left untouched)
`
	if out.String() != want {
		t.Errorf("dry-run summary\n%s\nwant\n%s", out.String(), want)
	}
}
