package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runTool measures one tool on every workload, each on a fresh mount.
func (b *bench) runTool(ctx context.Context, tool string) {
	size := b.cfg.size
	bucket := toolBucket(tool)
	direct := target{bucket: bucket, endpoint: b.srv.Endpoint, caFile: b.srv.CAFile}
	listing := target{bucket: listBucket, endpoint: b.srv.Endpoint, caFile: b.srv.CAFile}
	proxied := target{bucket: listBucket, endpoint: b.proxy.Endpoint, caFile: b.proxy.CAFile, proxied: true}
	b.logf("%s...", tool)

	b.toolStep(ctx, tool, rowSeqWrite, func(ctx context.Context) (cell, error) {
		var c cell
		err := b.withMount(ctx, tool, direct, "sequential write", func(m *mount) error {
			t0 := time.Now()
			if err := seqWrite(filepath.Join(m.dir, writeObject), b.g, size); err != nil {
				return err
			}
			closed := time.Since(t0)
			if err := b.waitObject(ctx, bucket, writeObject, size); err != nil {
				return err
			}
			d := time.Since(t0)
			c = rate(size, d)
			if d-closed > 500*time.Millisecond {
				c.text = fmt.Sprintf("(close returned at %s, object complete in S3 at %s)", seconds(closed), seconds(d))
			}
			return nil
		})
		if err == nil {
			err = b.verifyObject(ctx, tool, bucket, writeObject, size, b.crc, nil)
		}
		return c, err
	})
	b.toolStep(ctx, tool, rowSeqRead, func(ctx context.Context) (cell, error) {
		var c cell
		b.coldStart()
		err := b.withMount(ctx, tool, direct, "sequential read", func(m *mount) error {
			t0 := time.Now()
			if err := seqRead(filepath.Join(m.dir, bigObject), size, b.crc); err != nil {
				return err
			}
			c = rate(size, time.Since(t0))
			return nil
		})
		return c, err
	})
	randStep := func(n int, length int64, what string) func(ctx context.Context) (cell, error) {
		return func(ctx context.Context) (cell, error) {
			var c cell
			b.coldStart()
			err := b.withMount(ctx, tool, direct, what, func(m *mount) error {
				offsets := randomOffsets(b.cfg.seed, n, size, length, length)
				spent, err := randRead(filepath.Join(m.dir, bigObject), offsets, int(length), b.g)
				if err != nil {
					return err
				}
				c = opsRate(n, spent)
				return nil
			})
			return c, err
		}
	}
	b.toolStep(ctx, tool, rowRand4K, randStep(b.cfg.rand4k, 4<<10, "random 4 KiB reads"))
	b.toolStep(ctx, tool, rowRand1M, randStep(b.cfg.rand1m, 1<<20, "random 1 MiB reads"))

	n := b.cfg.smallFiles
	b.toolStep(ctx, tool, rowCreate, func(ctx context.Context) (cell, error) {
		var c cell
		err := b.withMount(ctx, tool, direct, "creating small files", func(m *mount) error {
			t0 := time.Now()
			if err := createSmall(filepath.Join(m.dir, smallDir), n, smallSize, b.g); err != nil {
				return err
			}
			closed := time.Since(t0)
			if err := b.waitCount(ctx, bucket, smallDir+"/f", n); err != nil {
				return err
			}
			d := time.Since(t0)
			c = opsRate(n, d)
			if d-closed > 500*time.Millisecond {
				c.text = fmt.Sprintf("(last close at %s, all in S3 at %s)", seconds(closed), seconds(d))
			}
			return nil
		})
		if err == nil {
			err = b.verifyObject(ctx, tool, bucket, smallDir+"/"+smallName(0), smallSize, 0, smallBody(b.g, 0, smallSize))
		}
		return c, err
	})
	b.toolStep(ctx, tool, rowReadSmall, func(ctx context.Context) (cell, error) {
		var c cell
		b.coldStart()
		err := b.withMount(ctx, tool, direct, "reading small files", func(m *mount) error {
			t0 := time.Now()
			if err := readSmall(filepath.Join(m.dir, smallDir), n, smallSize, b.g); err != nil {
				return err
			}
			c = opsRate(n, time.Since(t0))
			return nil
		})
		return c, err
	})
	b.toolStep(ctx, tool, rowList, func(ctx context.Context) (cell, error) {
		var c cell
		err := b.withMount(ctx, tool, listing, "ls -l", func(m *mount) error {
			t0 := time.Now()
			if err := lsl(ctx, filepath.Join(m.dir, listDir), b.cfg.listFiles); err != nil {
				return err
			}
			d := time.Since(t0)
			c = opsRate(b.cfg.listFiles, d)
			c.text = fmt.Sprintf("(%s)", seconds(d))
			return nil
		})
		return c, err
	})
	b.toolStep(ctx, tool, rowListReq, func(ctx context.Context) (cell, error) {
		var c cell
		err := b.withMount(ctx, tool, proxied, "ls -l (counted)", func(m *mount) error {
			b.proxy.reset()
			if err := lsl(ctx, filepath.Join(m.dir, listDir), b.cfg.listFiles); err != nil {
				return err
			}
			total, kinds := b.proxy.snapshot()
			c = cell{value: float64(total), text: "(" + kinds + ")"}
			return nil
		})
		return c, err
	})
	if r := b.res.rssOf(tool); r.bytes > 0 {
		c := cell{ok: true, value: float64(r.bytes) / (1 << 20), text: "(" + r.workload + ")"}
		if tool == "ssecfs" {
			c.text = fmt.Sprintf("(%s; bound %s)", r.workload, formatMiB(b.rssBound()))
		}
		b.res.set(rowRSS, tool, c)
	}
}

// toolStep runs one workload of a tool, bounded by -step-timeout: past it, the tool's mounts are killed and
// detached so that whatever is blocked on them returns, and the cell says so.
func (b *bench) toolStep(ctx context.Context, tool, row string, fn func(context.Context) (cell, error)) {
	if err := b.mountFailed(tool); err != nil {
		b.record(tool, row, cell{}, fmt.Errorf("not run: mounting failed earlier (%v)", err))
		return
	}
	if ctx.Err() != nil {
		b.record(tool, row, cell{}, ctx.Err())
		return
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		c   cell
		err error
	}
	b.waitQuiet(ctx)
	done := make(chan result, 1)
	w := b.watch()
	go func() {
		c, err := fn(sctx)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		r.c.otherLoad = w()
		b.record(tool, row, r.c, r.err)
	case <-time.After(b.cfg.stepTimeout):
		cancel()
		b.mounts.unmountAll()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
		}
		b.record(tool, row, cell{}, fmt.Errorf("timed out after %v (-step-timeout)", b.cfg.stepTimeout))
	}
}

func (b *bench) mountFailed(tool string) error {
	b.stopMu.Lock()
	defer b.stopMu.Unlock()
	return b.mountErr[tool]
}

// withMount mounts t with tool on a fresh mount point, runs fn, notes the process's peak RSS, and unmounts (which,
// for the peers, waits until their process has exited).
func (b *bench) withMount(ctx context.Context, tool string, t target, workload string, fn func(*mount) error) error {
	b.stopMu.Lock()
	b.nmount++
	mp := filepath.Join(b.dir, "mnt", fmt.Sprintf("%s-%02d", tool, b.nmount))
	b.stopMu.Unlock()
	if err := os.MkdirAll(mp, 0o755); err != nil {
		return err
	}
	var m *mount
	var err error
	switch tool {
	case "ssecfs":
		m, err = b.mountSSECFS(ctx, t, mp)
	case "s3fs":
		m, err = b.mountS3FS(ctx, t, mp)
	case "rclone":
		m, err = b.mountRclone(ctx, t, mp)
	default:
		err = fmt.Errorf("unknown tool %q", tool)
	}
	if err != nil {
		b.stopMu.Lock()
		b.mountErr[tool] = err
		b.stopMu.Unlock()
		return fmt.Errorf("mount: %w", err)
	}
	b.mounts.add(m)
	ferr := fn(m)
	b.res.noteRSS(tool, m.peakRSS(), workload)
	uerr := m.unmount()
	b.mounts.remove(m)
	if ferr == nil && uerr != nil {
		ferr = uerr
	}
	if ferr != nil && m.logFile != "" {
		if tail := lastLines(readFile(m.logFile), 2); tail != "(no output)" {
			ferr = fmt.Errorf("%w [log: %s]", ferr, tail)
		}
	}
	return ferr
}

// rssBound is the memory ssecfs is configured to stay within: its cache, its write buffer and 64 MiB.
func (b *bench) rssBound() int64 { return b.cfg.cacheSize + b.cfg.writeBuffer + 64<<20 }
