package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The file-system side of every workload: plain system calls on a mount, the same for every tool.

const ioChunk = 1 << 20

var errMismatch = errors.New("data read differs from data written")

// seqWrite writes size bytes of g to path in 1 MiB writes to a new file and closes it; it returns when close does.
func seqWrite(path string, g *gen, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, ioChunk)
	for off := int64(0); off < size; off += ioChunk {
		b := buf[:min(ioChunk, size-off)]
		g.fill(b, off)
		if _, err := f.Write(b); err != nil {
			f.Close()
			return fmt.Errorf("write at %d: %w", off, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// seqRead reads path front to back in 1 MiB reads and checks its length and CRC-32C.
func seqRead(path string, size int64, want uint32) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, ioChunk)
	var n int64
	var c uint32
	for n <= size {
		m, err := f.Read(buf)
		c = crc32.Update(c, castagnoli, buf[:m])
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read at %d: %w", n, err)
		}
	}
	if n != size {
		return fmt.Errorf("read %d bytes, want %d", n, size)
	}
	if c != want {
		return errMismatch
	}
	return nil
}

// randRead preads length bytes at each offset, one at a time, with the kernel told the access is random (as fio
// does by default), checks each against g, and returns the time spent in the reads (checks excluded).
func randRead(path string, offsets []int64, length int, g *gen) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fadviseRandom(f)
	buf := make([]byte, length)
	want := make([]byte, length)
	var spent time.Duration
	for _, off := range offsets {
		t0 := time.Now()
		n, err := f.ReadAt(buf, off)
		spent += time.Since(t0)
		if err != nil && !(err == io.EOF && n == length) {
			return spent, fmt.Errorf("pread %d at %d: %w", length, off, err)
		}
		g.fill(want, off)
		if !bytes.Equal(buf, want) {
			return spent, fmt.Errorf("pread at %d: %w", off, errMismatch)
		}
	}
	return spent, nil
}

// smallName is the name of the i-th small file.
func smallName(i int) string { return fmt.Sprintf("f%05d", i) }

// smallBody is the content of the i-th small file: distinct for each.
func smallBody(g *gen, i int, size int) []byte { return g.bytes(int64(i)*int64(size)+(1<<40), size) }

// createSmall writes n files of size bytes into dir (created first), one after another, each closed before the next.
func createSmall(dir string, n, size int, g *gen) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, smallName(i)), smallBody(g, i, size), 0o644); err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
	}
	return nil
}

// readSmall reads the n files back, one after another, and checks them.
func readSmall(dir string, n, size int, g *gen) error {
	for i := range n {
		b, err := os.ReadFile(filepath.Join(dir, smallName(i)))
		if err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
		if !bytes.Equal(b, smallBody(g, i, size)) {
			return fmt.Errorf("file %d: %w", i, errMismatch)
		}
	}
	return nil
}

// lsl runs ls -l on dir and checks that it printed n entries.
func lsl(ctx context.Context, dir string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ls", "-l", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("ls -l: %v: %s", err, lastLines(stderr.String(), 2))
	}
	lines := strings.Count(string(out), "\n")
	if lines != n+1 {
		return fmt.Errorf("ls -l printed %d lines, want %d", lines, n+1)
	}
	return nil
}
