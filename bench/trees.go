package main

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
)

// The dataset trees: a directory of -tree-files files of -tree-file-size (the dataset), and one of -small-tree-files
// of -small-tree-file-size (the small files). What they hold, where they live, how they are copied out of and into a
// mount with cp, and how a copy is checked.

// tree is one directory of files of one size: in S3 under dir/ of the data bucket (written by the SDK beforehand),
// and, for the dataset, in the local tmpfs as the source of the copy into each mount.
type tree struct {
	dir   string
	files int
	size  int64
	base  int64    // offset of file 0's content in the generator's stream; file i's is base + i*size
	crcs  []uint32 // the CRC-32C of each file
}

const (
	datasetDir   = "dataset"
	smallTreeDir = "smallfiles"
)

func newTree(g *gen, dir string, files int, size, base int64) *tree {
	t := &tree{dir: dir, files: files, size: size, base: base, crcs: make([]uint32, files)}
	buf := make([]byte, size)
	for i := range files {
		g.fill(buf, t.offset(i))
		t.crcs[i] = crc32.Checksum(buf, castagnoli)
	}
	return t
}

// name is file i's name: listing order is file order.
func (t *tree) name(i int) string { return fmt.Sprintf("f%05d.bin", i) }

func (t *tree) offset(i int) int64 { return t.base + int64(i)*t.size }

func (t *tree) names() []string {
	out := make([]string, t.files)
	for i := range out {
		out[i] = t.name(i)
	}
	return out
}

func (t *tree) bytes() int64 { return int64(t.files) * t.size }

// writeLocal writes the tree's files into dir (created).
func (t *tree) writeLocal(g *gen, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	buf := make([]byte, t.size)
	for i := range t.files {
		g.fill(buf, t.offset(i))
		if err := os.WriteFile(filepath.Join(dir, t.name(i)), buf, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// check checks that dir holds exactly the tree's files, each with its content.
func (t *tree) check(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) != t.files {
		return fmt.Errorf("%s holds %d entries, want %d", dir, len(entries), t.files)
	}
	buf := make([]byte, 1<<20)
	for i := range t.files {
		f, err := os.Open(filepath.Join(dir, t.name(i)))
		if err != nil {
			return err
		}
		h := crc32.New(castagnoli)
		n, err := io.CopyBuffer(h, f, buf)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading back %s: %w", t.name(i), err)
		}
		if n != t.size || h.Sum32() != t.crcs[i] {
			return fmt.Errorf("%s (%d bytes): %w", t.name(i), n, errMismatch)
		}
	}
	return nil
}

// copyOut copies the tree's directory src (in a mount) to dst (which must not exist) with cp: one `cp -r` for jobs 1,
// else jobs cp processes at once, each copying its share of the files (consecutive in listing order) into dst.
func (t *tree) copyOut(ctx context.Context, src, dst string, jobs int) error {
	if jobs <= 1 {
		return runCp(ctx, "-r", src, dst)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	per := (t.files + jobs - 1) / jobs
	var wg sync.WaitGroup
	errs := make([]error, jobs)
	for j := range jobs {
		lo, hi := j*per, min((j+1)*per, t.files)
		if lo >= hi {
			continue
		}
		args := []string{}
		for i := lo; i < hi; i++ {
			args = append(args, filepath.Join(src, t.name(i)))
		}
		args = append(args, dst+"/")
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[j] = runCp(ctx, args...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// runCp runs cp with args, bounded by ctx.
func runCp(ctx context.Context, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "cp", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, lastLines(stderr.String(), 2))
	}
	return nil
}

// mountTmpfs mounts a tmpfs of size bytes at dir, for the local side of the copies: neither a disk nor dropping the
// page cache may slow it. false if it could not be mounted (dir is then a plain directory).
func mountTmpfs(dir string, size int64) bool {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false
	}
	return syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)) == nil
}

// checkTreeInS3 checks the objects a column copied into prefix of bucket: every one SSE-C (a HEAD without the key
// fails) and holding its file's content. The finding goes into the report.
func (b *bench) checkTreeInS3(ctx context.Context, tool, bucket, prefix string, t *tree) error {
	plain := 0
	var firstErr error
	var mu sync.Mutex
	err := forEach(ctx, t.files, b.cfg.copyJobs, func(ctx context.Context, i int) error {
		key := prefix + t.name(i)
		if _, err := b.sdk.head(ctx, bucket, key, false); err == nil {
			mu.Lock()
			plain++
			mu.Unlock()
		}
		n, c, err := b.sdk.getAllCRC(ctx, bucket, key)
		switch {
		case err != nil:
			err = fmt.Errorf("reading %s back with the key: %w", key, err)
		case n != t.size || c != t.crcs[i]:
			err = fmt.Errorf("%s in S3 (%d bytes): %w", key, n, errMismatch)
		}
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		return nil
	})
	if err == nil {
		err = firstErr
	}
	finding := fmt.Sprintf("`%s` (%d objects): ", prefix, t.files)
	if plain > 0 {
		finding += fmt.Sprintf("**%d NOT SSE-C**: a HEAD without the key succeeded", plain)
	} else {
		finding += "all SSE-C (HEAD without the key refused)"
	}
	if err != nil {
		finding += "; content: " + errText(err)
	} else {
		finding += ", content as written"
	}
	b.res.addCheck(tool, finding)
	if err == nil && plain > 0 {
		err = fmt.Errorf("%d objects under %s are not SSE-C", plain, prefix)
	}
	return err
}

// forEach runs fn(i) for i in [0, n), conc at a time, and returns the first error (which stops the others).
func forEach(ctx context.Context, n, conc int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}
