package bucket

import (
	"errors"
	"io"
)

// slicesReader reads a list of byte slices as one seekable body, so a part made of
// pages is sent without first being copied into one buffer. Seeking lets the SDK
// rewind it for a retry.
type slicesReader struct {
	parts [][]byte
	size  int64
	pos   int64
}

func newSlicesReader(parts [][]byte) *slicesReader {
	r := &slicesReader{parts: parts}
	for _, p := range parts {
		r.size += int64(len(p))
	}
	return r
}

func (r *slicesReader) Read(b []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	n, skip := 0, r.pos
	for _, p := range r.parts {
		if skip >= int64(len(p)) {
			skip -= int64(len(p))
			continue
		}
		c := copy(b[n:], p[skip:])
		n += c
		skip = 0
		if n == len(b) {
			break
		}
	}
	r.pos += int64(n)
	return n, nil
}

func (r *slicesReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.size
	default:
		return 0, errors.New("slicesReader: bad whence")
	}
	if off < 0 {
		return 0, errors.New("slicesReader: negative position")
	}
	r.pos = off
	return off, nil
}
