package writeback

import (
	"context"
	"errors"
	"io"
)

// rangeReader reads bytes [from, to) of a file as it is now (written pages, the spill,
// the base, zeros for holes) a chunk at a time, so a part of a large or sparse file is
// sent without being assembled in memory. It is seekable, so the part can be retried.
type rangeReader struct {
	ctx      context.Context
	f        *File
	from, to int64
	pos      int64 // offset from from
	buf      []byte
	bufOff   int64 // file offset of buf[0]
}

// rangeChunk is how much of the file a rangeReader holds at once.
const rangeChunk = writePage

func (f *File) rangeReader(ctx context.Context, from, to int64) *rangeReader {
	return &rangeReader{ctx: ctx, f: f, from: from, to: to, bufOff: -1}
}

func (r *rangeReader) Read(p []byte) (int, error) {
	at := r.from + r.pos
	if at >= r.to {
		return 0, io.EOF
	}
	if r.bufOff < 0 || at < r.bufOff || at >= r.bufOff+int64(len(r.buf)) {
		if r.buf == nil {
			r.buf = make([]byte, rangeChunk)
		}
		start := at - at%rangeChunk
		end := min(start+rangeChunk, r.to)
		r.buf = r.buf[:end-start]
		n, err := r.f.ReadAt(r.ctx, r.buf, start)
		if err != nil {
			return 0, err
		}
		if n < len(r.buf) {
			clear(r.buf[n:]) // the file was cut while saving: the rest reads as zeros
		}
		r.bufOff = start
	}
	n := copy(p, r.buf[at-r.bufOff:])
	n = int(min(int64(n), r.to-at))
	r.pos += int64(n)
	return n, nil
}

func (r *rangeReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.to - r.from
	default:
		return 0, errors.New("rangeReader: bad whence")
	}
	if off < 0 {
		return 0, errors.New("rangeReader: negative position")
	}
	r.pos = off
	return off, nil
}
