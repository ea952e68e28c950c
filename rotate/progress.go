package rotate

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress reports how far a rotation is: on a terminal, one line rewritten in
// place; otherwise a plain line every few seconds.
type progress struct {
	out      io.Writer
	terminal bool
	every    time.Duration

	mu           sync.Mutex
	objects, all int
	bytes, total int64
	began        time.Time

	done    chan struct{}
	stopped chan struct{}
}

func newProgress(out io.Writer, all int, total int64) *progress {
	p := &progress{out: out, all: all, total: total, every: 5 * time.Second,
		done: make(chan struct{}), stopped: make(chan struct{})}
	if f, ok := out.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal, p.every = true, 250*time.Millisecond
		}
	}
	return p
}

func (p *progress) start() {
	p.began = time.Now()
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				if p.terminal {
					fmt.Fprintf(p.out, "\r%s\x1b[K\n", p.line())
				}
				return
			case <-t.C:
				if p.terminal {
					fmt.Fprintf(p.out, "\r%s\x1b[K", p.line())
				} else {
					fmt.Fprintln(p.out, p.line())
				}
			}
		}
	}()
}

func (p *progress) add(size int64) {
	p.mu.Lock()
	p.objects++
	p.bytes += size
	p.mu.Unlock()
}

func (p *progress) stop() {
	close(p.done)
	<-p.stopped
}

// line is "objects N/M, X/Y, R MiB/s, ETA T".
func (p *progress) line() string {
	p.mu.Lock()
	objects, bytes := p.objects, p.bytes
	p.mu.Unlock()
	elapsed := time.Since(p.began).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(bytes) / elapsed
	}
	eta := "?"
	switch {
	case objects >= p.all:
		eta = "0s"
	case rate > 0 && p.total > bytes:
		eta = (time.Duration(float64(p.total-bytes)/rate) * time.Second).Round(time.Second).String()
	case objects > 0:
		perObject := elapsed / float64(objects)
		eta = (time.Duration(perObject*float64(p.all-objects)) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("objects %d/%d, %s/%s, %.1f MiB/s, ETA %s",
		objects, p.all, humanBytes(bytes), humanBytes(p.total), rate/(1<<20), eta)
}

// humanBytes is n in B, KiB, MiB, GiB or TiB, e.g. "40 B", "12.0 MiB".
func humanBytes(n int64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/(1<<10), "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1<<10 {
			break
		}
		v, unit = v/(1<<10), u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
