package main

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"strings"
)

// gen is the deterministic content of every file the bench writes or reads: a 16 MiB pool of pseudo-random bytes
// repeated, with the first 8 bytes of every 4 KiB page replaced by the page's absolute offset mixed with the seed, so
// that a page read from the wrong place, or from the wrong object, never compares equal. Filling is a copy plus a
// stamp per page: cheap enough to run inside the timed write loops without taking the CPU from the tool measured.
type gen struct {
	pool []byte
	seed uint64
}

const (
	genPage = 4 << 10
	genPool = 16 << 20
)

func newGen(seed uint64) *gen {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pool := make([]byte, genPool)
	for i := 0; i < len(pool); i += 8 {
		binary.LittleEndian.PutUint64(pool[i:], r.Uint64())
	}
	return &gen{pool: pool, seed: seed}
}

// fill writes the content at offset off of the stream into dst.
func (g *gen) fill(dst []byte, off int64) {
	for len(dst) > 0 {
		page := off / genPage
		in := int(off % genPage)
		n := min(len(dst), genPage-in)
		src := g.pool[(page*genPage)%genPool:][:genPage]
		copy(dst[:n], src[in:in+n])
		if in < 8 {
			var stamp [8]byte
			binary.LittleEndian.PutUint64(stamp[:], uint64(page)*0x9e3779b97f4a7c15^g.seed)
			copy(dst[:n], stamp[in:])
		}
		dst = dst[n:]
		off += int64(n)
	}
}

// bytes returns n bytes of content from offset off.
func (g *gen) bytes(off int64, n int) []byte {
	b := make([]byte, n)
	g.fill(b, off)
	return b
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc is the CRC-32C of the first size bytes of the stream.
func (g *gen) crc(size int64) uint32 {
	buf := make([]byte, 1<<20)
	var c uint32
	for off := int64(0); off < size; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), size-off)]
		g.fill(b, off)
		c = crc32.Update(c, castagnoli, b)
	}
	return c
}

// parseSize reads sizes like 1GiB, 256MiB, 4KiB, 64M or 1048576.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || v <= 0 || v > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a size; write it like 1GiB, 256MiB or 1048576", s)
	}
	return v * mult, nil
}

// formatSize writes n as ssecfs's flags and people read it: 1GiB, 256MiB, 4KiB, else bytes.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return fmt.Sprintf("%d%s", n/u.mult, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}
