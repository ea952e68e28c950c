package main

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
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

// randomOffsets returns n offsets aligned to align in [0, size-length], the same for every tool (seeded).
func randomOffsets(seed uint64, n int, size, length, align int64) []int64 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	slots := (size - length) / align
	out := make([]int64, n)
	for i := range out {
		if slots > 0 {
			out[i] = r.Int64N(slots+1) * align
		}
	}
	return out
}
