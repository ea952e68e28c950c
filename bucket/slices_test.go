package bucket

import (
	"bytes"
	"io"
	"testing"
)

func TestSlicesReader(t *testing.T) {
	parts := [][]byte{[]byte("hello, "), {}, []byte("world"), []byte("!")}
	want := []byte("hello, world!")
	r := newSlicesReader(parts)
	for _, bufSize := range []int{1, 3, 7, 64} {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		buf := make([]byte, bufSize)
		for {
			n, err := r.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("buffer %d: read %q", bufSize, got.Bytes())
		}
	}
	if pos, _ := r.Seek(-6, io.SeekEnd); pos != 7 {
		t.Errorf("Seek(-6, end) = %d", pos)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "world!" {
		t.Errorf("after seek: %q", rest)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Error("negative seek accepted")
	}
}
