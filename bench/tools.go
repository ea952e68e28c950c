package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runTool measures one mounted tool (ssecfs over one HTTP version, or a peer) on every workload of one round, each on
// a fresh mount.
func (b *bench) runTool(ctx context.Context, col column, round int) {
	size := b.cfg.size
	own := col.bucket()
	write := target{bucket: own, endpoint: b.srv.Endpoint, caFile: b.srv.CAFile}
	data := target{bucket: dataBucket, endpoint: b.srv.Endpoint, caFile: b.srv.CAFile}
	listing := target{bucket: listBucket, endpoint: b.srv.Endpoint, caFile: b.srv.CAFile}
	proxied := target{bucket: listBucket, endpoint: b.proxy.Endpoint, caFile: b.proxy.CAFile, proxied: true}
	step := func(row string, fn func(ctx context.Context) (cell, error)) {
		if b.measures(row) {
			b.toolStep(ctx, col, row, fn)
		}
	}

	step(rowSeqWrite, func(ctx context.Context) (cell, error) {
		var c cell
		err := b.withMount(ctx, col, write, "sequential write", func(m *mount) error {
			t0 := time.Now()
			if err := seqWrite(filepath.Join(m.dir, writeObject), b.g, size); err != nil {
				return err
			}
			closed := time.Since(t0)
			if err := b.waitObject(ctx, own, writeObject, size); err != nil {
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
			err = b.verifyObject(ctx, col.label(), own, writeObject, size, b.crc, nil)
		}
		return c, err
	})
	if b.measures(rowSeqRead) {
		// The mount process's CPU time over the read: user and system, all its threads (proc.go).
		var cpu cell
		cpuErr := fmt.Errorf("not measured")
		b.toolStep(ctx, col, rowSeqRead, func(ctx context.Context) (cell, error) {
			var c cell
			b.coldStart()
			err := b.withMount(ctx, col, data, "sequential read", func(m *mount) error {
				cpu0 := procCPU(m.pid)
				t0 := time.Now()
				if err := seqRead(filepath.Join(m.dir, bigObject), size, b.crc); err != nil {
					return err
				}
				c = rate(size, time.Since(t0))
				if cpu1 := procCPU(m.pid); cpu0 < 0 || cpu1 < 0 {
					cpuErr = fmt.Errorf("the CPU time of the mount process (pid %d) is unknown", m.pid)
				} else {
					cpu, cpuErr = cell{value: (cpu1 - cpu0) / (float64(size) / (1 << 30))}, nil
				}
				return nil
			})
			if err != nil {
				cpuErr = err
			}
			return c, err
		})
		if c, ok := b.lastRun(rowSeqRead, col.key); ok {
			cpu.otherLoad = c.otherLoad
		}
		if err := b.mountFailed(col.key); err != nil {
			cpuErr = fmt.Errorf("not run: mounting failed earlier (%v)", err)
		}
		b.record(col.key, rowCPU, cpu, cpuErr)
	}

	// The trees: copied out with cp into the local tmpfs (then checked), and the dataset copied in.
	copyOut := func(t *tree, jobs int, what string) func(ctx context.Context) (cell, error) {
		return func(ctx context.Context) (cell, error) {
			var c cell
			defer b.clearOut()
			b.coldStart()
			err := b.withMount(ctx, col, data, what, func(m *mount) error {
				dst := b.outDir(t.dir)
				t0 := time.Now()
				if err := t.copyOut(ctx, filepath.Join(m.dir, t.dir), dst, jobs); err != nil {
					return err
				}
				d := time.Since(t0)
				if t == b.smallTree {
					c = opsRate(t.files, d)
				} else {
					c = rate(t.bytes(), d)
				}
				return t.check(dst)
			})
			return c, err
		}
	}
	step(rowTreeOut, copyOut(b.dataset, 1, "cp -r out"))
	step(rowTreePar, copyOut(b.dataset, b.cfg.copyJobs, fmt.Sprintf("%d cp at once", b.cfg.copyJobs)))
	step(rowSmallTree, copyOut(b.smallTree, 1, "cp -r of small files out"))
	step(rowTreeIn, func(ctx context.Context) (cell, error) {
		var c cell
		prefix := fmt.Sprintf("in-r%d", round)
		err := b.withMount(ctx, col, write, "cp -r in", func(m *mount) error {
			t0 := time.Now()
			if err := runCp(ctx, "-r", filepath.Join(b.local, "src", b.dataset.dir), filepath.Join(m.dir, prefix)); err != nil {
				return err
			}
			copied := time.Since(t0)
			if err := b.waitTree(ctx, own, prefix+"/", b.dataset); err != nil {
				return err
			}
			d := time.Since(t0)
			c = rate(b.dataset.bytes(), d)
			if d-copied > 500*time.Millisecond {
				c.text = fmt.Sprintf("(cp returned at %s, all in S3 at %s)", seconds(copied), seconds(d))
			}
			return nil
		})
		if err == nil {
			err = b.checkTreeInS3(ctx, col.label(), own, prefix+"/", b.dataset)
		}
		return c, err
	})

	randStep := func(n int, length int64, what string) func(ctx context.Context) (cell, error) {
		return func(ctx context.Context) (cell, error) {
			var c cell
			b.coldStart()
			err := b.withMount(ctx, col, data, what, func(m *mount) error {
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
	step(rowRand4K, randStep(b.cfg.rand4k, 4<<10, "random 4 KiB reads"))
	step(rowRand1M, randStep(b.cfg.rand1m, 1<<20, "random 1 MiB reads"))

	n := b.cfg.smallFiles
	dir := fmt.Sprintf("%s-r%d", smallDir, round)
	step(rowCreate, func(ctx context.Context) (cell, error) {
		var c cell
		err := b.withMount(ctx, col, write, "creating small files", func(m *mount) error {
			t0 := time.Now()
			if err := createSmall(filepath.Join(m.dir, dir), n, smallSize, b.g); err != nil {
				return err
			}
			closed := time.Since(t0)
			if err := b.waitCount(ctx, own, dir+"/f", n); err != nil {
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
			err = b.verifyObject(ctx, col.label(), own, dir+"/"+smallName(0), smallSize, 0, smallBody(b.g, 0, smallSize))
		}
		return c, err
	})
	step(rowReadSmall, func(ctx context.Context) (cell, error) {
		var c cell
		b.coldStart()
		err := b.withMount(ctx, col, write, "reading small files", func(m *mount) error {
			t0 := time.Now()
			if err := readSmall(filepath.Join(m.dir, dir), n, smallSize, b.g); err != nil {
				return err
			}
			c = opsRate(n, time.Since(t0))
			return nil
		})
		return c, err
	})
	step(rowList, func(ctx context.Context) (cell, error) {
		var c cell
		err := b.withMount(ctx, col, listing, "ls -l", func(m *mount) error {
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
	// A count, the same from run to run: counted in the first round only.
	if round == 1 {
		step(rowListReq, func(ctx context.Context) (cell, error) {
			var c cell
			err := b.withMount(ctx, col, proxied, "ls -l (counted)", func(m *mount) error {
				b.proxy.reset()
				if err := lsl(ctx, filepath.Join(m.dir, listDir), b.cfg.listFiles); err != nil {
					return err
				}
				total, kinds := b.proxy.snapshot()
				c = cell{value: float64(total), text: "(" + kinds + ")"}
				b.res.noteProto(col.key, b.proxy.versions())
				return nil
			})
			return c, err
		})
	}
}

// noteRSS puts each mounted column's peak RSS, over every workload of every round, into the table.
func (b *bench) noteRSS() {
	for _, col := range b.cols {
		r := b.res.rssOf(col.key)
		if col.tool == colCeiling || r.bytes == 0 {
			continue
		}
		c := cell{ok: true, value: float64(r.bytes) / (1 << 20), text: "(" + r.workload + ")"}
		if col.tool == "ssecfs" {
			c.text = fmt.Sprintf("(%s; bound %s)", r.workload, formatMiB(b.rssBound()))
		}
		b.res.set(rowRSS, col.key, c)
	}
}

// toolStep runs one workload of a column, bounded by -step-timeout: past it, the tool's mounts are killed and
// detached so that whatever is blocked on them returns, and the cell says so.
func (b *bench) toolStep(ctx context.Context, col column, row string, fn func(context.Context) (cell, error)) {
	if err := b.mountFailed(col.key); err != nil {
		b.record(col.key, row, cell{}, fmt.Errorf("not run: mounting failed earlier (%v)", err))
		return
	}
	if ctx.Err() != nil {
		b.record(col.key, row, cell{}, ctx.Err())
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
		b.record(col.key, row, r.c, r.err)
	case <-time.After(b.cfg.stepTimeout):
		cancel()
		b.mounts.unmountAll()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
		}
		b.record(col.key, row, cell{}, fmt.Errorf("timed out after %v (-step-timeout)", b.cfg.stepTimeout))
	}
}

// mountFailed is why a column's tool could not mount, if it could not once: it is not tried again.
func (b *bench) mountFailed(col string) error {
	b.stopMu.Lock()
	defer b.stopMu.Unlock()
	return b.mountErr[col]
}

// withMount mounts t with the column's tool on a fresh mount point, runs fn, notes the process's peak RSS, and
// unmounts (which, for the peers, waits until their process has exited).
func (b *bench) withMount(ctx context.Context, col column, t target, workload string, fn func(*mount) error) error {
	tool := col.tool
	b.stopMu.Lock()
	b.nmount++
	mp := filepath.Join(b.dir, "mnt", fmt.Sprintf("%s-%03d", tool, b.nmount))
	b.stopMu.Unlock()
	if err := os.MkdirAll(mp, 0o755); err != nil {
		return err
	}
	var m *mount
	var err error
	switch tool {
	case "ssecfs":
		m, err = b.mountSSECFS(ctx, t, mp, col.proto)
	case "s3fs":
		m, err = b.mountS3FS(ctx, t, mp)
	case "rclone":
		m, err = b.mountRclone(ctx, t, mp)
	default:
		err = fmt.Errorf("unknown tool %q", tool)
	}
	if err != nil {
		b.stopMu.Lock()
		b.mountErr[col.key] = err
		b.stopMu.Unlock()
		return fmt.Errorf("mount: %w", err)
	}
	b.mounts.add(m)
	ferr := fn(m)
	b.res.noteRSS(col.key, m.peakRSS(), workload)
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
