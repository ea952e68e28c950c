package cache

import (
	"context"
	"testing"
)

// BenchmarkColdSequentialRead reads a 64 MiB object front to back in 1 MiB reads, as
// FUSE does, through a cache that holds none of it, with read-ahead; the fetch copies
// from memory into the pages it is given, as the GET body does. It measures what the
// cache costs per byte beyond the network: b.SetBytes makes it MB/s.
func BenchmarkColdSequentialRead(b *testing.B) {
	const size = 64 << 20
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i * 7)
	}
	fetch := func(_ context.Context, off int64, dst [][]byte) (int64, error) {
		var n int64
		for _, d := range dst {
			n += int64(copy(d, src[off+n:]))
		}
		return n, nil
	}
	c, err := New(256<<20, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := c.NewReader("o", string(rune('a'+i%26))+string(rune(i)), size, fetch)
		for off := int64(0); off < size; off += int64(len(buf)) {
			if _, err := r.ReadAt(context.Background(), buf, off); err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
}
