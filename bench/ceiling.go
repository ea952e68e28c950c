package main

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// ceiling measures the same workloads with the AWS SDK directly, over one HTTP version: what the server gives a client
// that does nothing but keyed requests, with ssecfs's concurrency for one large object (-concurrency ranged GETs or
// parts in flight) and -copy-jobs whole-object requests in flight for a tree, at the transport settings ssecfs uses
// (bucket.TuneTransport).
func (b *bench) ceiling(ctx context.Context, col column, round int) {
	size := b.cfg.size
	s := b.sdks[col.proto]
	own := col.bucket()
	step := func(row string, fn func(ctx context.Context) (cell, error)) {
		if b.measures(row) {
			b.sdkStep(ctx, col.key, row, fn)
		}
	}

	step(rowSeqWrite, func(ctx context.Context) (cell, error) {
		t0 := time.Now()
		err := s.putMultipart(ctx, own, writeObject, b.g, size, b.cfg.partSize, b.cfg.concurrency)
		return rate(size, time.Since(t0)), err
	})
	if b.measures(rowSeqRead) {
		// In a child process, so that its CPU time is its own (child.go).
		var cpu cell
		var cpuErr error
		b.sdkStep(ctx, col.key, rowSeqRead, func(ctx context.Context) (cell, error) {
			b.coldStart()
			res, err := b.ceilingReadInChild(ctx, dataBucket, bigObject, col.proto)
			if err != nil {
				cpuErr = err
				return cell{}, err
			}
			cpu = cell{value: res.CPUSeconds / (float64(size) / (1 << 30))}
			return rate(size, time.Duration(res.Seconds*float64(time.Second))), nil
		})
		if c, ok := b.lastRun(rowSeqRead, col.key); ok {
			cpu.otherLoad = c.otherLoad
		}
		b.record(col.key, rowCPU, cpu, cpuErr)
	}

	// The trees: whole-object GETs into the local tmpfs, -copy-jobs at once; the copies are then checked.
	treeGets := func(t *tree) func(ctx context.Context) (cell, error) {
		return func(ctx context.Context) (cell, error) {
			defer b.clearOut()
			b.coldStart()
			dst := b.outDir(t.dir)
			t0 := time.Now()
			err := s.downloadTree(ctx, dataBucket, t.dir+"/", t.names(), dst, b.cfg.copyJobs)
			d := time.Since(t0)
			if err == nil {
				err = t.check(dst)
			}
			if t == b.smallTree {
				return opsRate(t.files, d), err
			}
			return rate(t.bytes(), d), err
		}
	}
	if b.measures(rowTreeOut) {
		step(rowTreeOut, treeGets(b.dataset))
		// The ceiling of the parallel copy is the same tree download: one measurement, shown on both rows.
		if c, ok := b.lastRun(rowTreeOut, col.key); ok {
			if c.ok {
				c.text = "(the same download)"
			}
			b.res.add(rowTreePar, col.key, c)
		}
	}
	step(rowSmallTree, treeGets(b.smallTree))
	step(rowTreeIn, func(ctx context.Context) (cell, error) {
		src := fmt.Sprintf("%s/src/%s", b.local, b.dataset.dir)
		t0 := time.Now()
		err := s.uploadTree(ctx, own, fmt.Sprintf("in-r%d/", round), src, b.dataset.names(), b.cfg.copyJobs)
		return rate(b.dataset.bytes(), time.Since(t0)), err
	})

	randGets := func(n int, length int64) func(ctx context.Context) (cell, error) {
		return func(ctx context.Context) (cell, error) {
			b.coldStart()
			buf := make([]byte, length)
			var spent time.Duration
			for _, off := range randomOffsets(b.cfg.seed, n, size, length, length) {
				t0 := time.Now()
				got, err := s.getRange(ctx, dataBucket, bigObject, off, length, buf)
				spent += time.Since(t0)
				if err != nil {
					return cell{}, err
				}
				if int64(got) != length || !bytes.Equal(buf, b.g.bytes(off, int(length))) {
					return cell{}, fmt.Errorf("GET at %d: %w", off, errMismatch)
				}
			}
			return opsRate(n, spent), nil
		}
	}
	step(rowRand4K, randGets(b.cfg.rand4k, 4<<10))
	step(rowRand1M, randGets(b.cfg.rand1m, 1<<20))
	n := b.cfg.smallFiles
	dir := fmt.Sprintf("%s-r%d", smallDir, round)
	step(rowCreate, func(ctx context.Context) (cell, error) {
		t0 := time.Now()
		for i := range n {
			if err := s.put(ctx, own, dir+"/"+smallName(i), smallBody(b.g, i, smallSize)); err != nil {
				return cell{}, err
			}
		}
		return opsRate(n, time.Since(t0)), nil
	})
	step(rowReadSmall, func(ctx context.Context) (cell, error) {
		b.coldStart()
		buf := make([]byte, smallSize+1)
		t0 := time.Now()
		for i := range n {
			got, err := s.getRange(ctx, own, dir+"/"+smallName(i), 0, 0, buf)
			if err != nil {
				return cell{}, err
			}
			if !bytes.Equal(buf[:got], smallBody(b.g, i, smallSize)) {
				return cell{}, fmt.Errorf("object %d: %w", i, errMismatch)
			}
		}
		return opsRate(n, time.Since(t0)), nil
	})
	var pages int
	step(rowList, func(ctx context.Context) (cell, error) {
		t0 := time.Now()
		entries, requests, err := s.listDir(ctx, listBucket, listDir+"/")
		d := time.Since(t0)
		if err == nil && entries != b.cfg.listFiles {
			err = fmt.Errorf("listed %d entries, want %d", entries, b.cfg.listFiles)
		}
		pages = requests
		c := opsRate(b.cfg.listFiles, d)
		c.text = fmt.Sprintf("(%s)", seconds(d))
		return c, err
	})
	if pages > 0 && round == 1 && b.measures(rowListReq) {
		b.res.add(rowListReq, col.key, cell{ok: true, value: float64(pages), text: fmt.Sprintf("(%d LIST)", pages)})
	}
}

// sdkStep runs one ceiling workload, bounded by -step-timeout.
func (b *bench) sdkStep(ctx context.Context, col, row string, fn func(context.Context) (cell, error)) {
	b.waitQuiet(ctx)
	ctx, cancel := context.WithTimeout(ctx, b.cfg.stepTimeout)
	defer cancel()
	w := b.watch()
	c, err := fn(ctx)
	c.otherLoad = w()
	b.record(col, row, c, err)
}

// lastRun is the run of row in col recorded last.
func (b *bench) lastRun(row, col string) (cell, bool) {
	b.res.mu.Lock()
	defer b.res.mu.Unlock()
	runs := b.res.runs[row][col]
	if len(runs) == 0 {
		return cell{}, false
	}
	return runs[len(runs)-1], true
}
