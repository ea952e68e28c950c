package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ceiling measures the same workloads with the AWS SDK directly: what the server gives a client that does nothing but
// keyed requests, with ssecfs's concurrency.
func (b *bench) ceiling(ctx context.Context) {
	const col = colCeiling
	size := b.cfg.size
	b.logf("SDK ceiling...")

	b.sdkStep(ctx, col, rowSeqWrite, func(ctx context.Context) (cell, error) {
		t0 := time.Now()
		err := b.sdk.putMultipart(ctx, ceilingBucket, bigObject, b.g, size, b.cfg.partSize, b.cfg.concurrency)
		return rate(size, time.Since(t0)), err
	})
	b.sdkStep(ctx, col, rowSeqRead, func(ctx context.Context) (cell, error) {
		b.coldStart()
		t0 := time.Now()
		n, err := b.sdk.getParallel(ctx, ceilingBucket, bigObject, size, b.cfg.partSize, b.cfg.concurrency)
		d := time.Since(t0)
		if err == nil && n != size {
			err = fmt.Errorf("read %d bytes, want %d", n, size)
		}
		return rate(size, d), err
	})
	randGets := func(n int, length int64) func(ctx context.Context) (cell, error) {
		return func(ctx context.Context) (cell, error) {
			b.coldStart()
			buf := make([]byte, length)
			var spent time.Duration
			for _, off := range randomOffsets(b.cfg.seed, n, size, length, length) {
				t0 := time.Now()
				got, err := b.sdk.getRange(ctx, ceilingBucket, bigObject, off, length, buf)
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
	b.sdkStep(ctx, col, rowRand4K, randGets(b.cfg.rand4k, 4<<10))
	b.sdkStep(ctx, col, rowRand1M, randGets(b.cfg.rand1m, 1<<20))
	n := b.cfg.smallFiles
	b.sdkStep(ctx, col, rowCreate, func(ctx context.Context) (cell, error) {
		t0 := time.Now()
		for i := range n {
			if err := b.sdk.put(ctx, ceilingBucket, smallDir+"/"+smallName(i), smallBody(b.g, i, smallSize)); err != nil {
				return cell{}, err
			}
		}
		return opsRate(n, time.Since(t0)), nil
	})
	b.sdkStep(ctx, col, rowReadSmall, func(ctx context.Context) (cell, error) {
		b.coldStart()
		buf := make([]byte, smallSize+1)
		t0 := time.Now()
		for i := range n {
			got, err := b.sdk.getRange(ctx, ceilingBucket, smallDir+"/"+smallName(i), 0, 0, buf)
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
	b.sdkStep(ctx, col, rowList, func(ctx context.Context) (cell, error) {
		t0 := time.Now()
		entries, requests, err := b.sdk.listDir(ctx, listBucket, listDir+"/")
		d := time.Since(t0)
		if err == nil && entries != b.cfg.listFiles {
			err = fmt.Errorf("listed %d entries, want %d", entries, b.cfg.listFiles)
		}
		pages = requests
		c := opsRate(b.cfg.listFiles, d)
		c.text = fmt.Sprintf("(%s)", seconds(d))
		return c, err
	})
	if pages > 0 {
		b.res.set(rowListReq, col, cell{ok: true, value: float64(pages), text: fmt.Sprintf("(%d LIST)", pages)})
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

// waitQuiet waits, at most -quiet-wait, until other processes use less than a quarter of a CPU over a second, so that
// a measurement does not start in the middle of someone else's build or test run.
func (b *bench) waitQuiet(ctx context.Context) {
	deadline := time.Now().Add(b.cfg.quietWait)
	said := false
	for ctx.Err() == nil {
		w := b.watch()
		time.Sleep(time.Second)
		share := w()
		if share <= otherLoadLimit || time.Now().After(deadline) {
			return
		}
		if !said {
			b.logf("other processes use %.0f%% of a CPU; waiting for them (at most %v, -quiet-wait)", 100*share, b.cfg.quietWait)
			said = true
		}
	}
}

// watch starts watching the CPU that other processes use; the function it returns gives their share of one CPU since.
func (b *bench) watch() func() float64 {
	t0, o0 := time.Now(), b.mon.otherSeconds()
	return func() float64 {
		d := time.Since(t0).Seconds()
		if d <= 0 {
			return 0
		}
		return (b.mon.otherSeconds() - o0) / d
	}
}

func (b *bench) record(col, row string, c cell, err error) {
	if row == rowListReq {
		c.otherLoad = 0 // a count, whatever else runs
	}
	if c.otherLoad > otherLoadLimit {
		b.logf("%-7s %-28s warning: other processes used %.0f%% of a CPU meanwhile", col, rowLabelShort(row), 100*c.otherLoad)
	}
	if err != nil {
		c = cell{err: errText(err), otherLoad: c.otherLoad}
		b.logf("%-7s %-28s failed: %s", col, rowLabelShort(row), c.err)
	} else {
		c.ok = true
		b.logf("%-7s %-28s %s %s %s", col, rowLabelShort(row), formatValue(row, c.value), rowUnit(row), c.text)
	}
	b.res.set(row, col, c)
}

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

// rssBound is the memory ssecfs is configured to stay within: its cache, its write buffer and 64 MiB.
func (b *bench) rssBound() int64 { return b.cfg.cacheSize + b.cfg.writeBuffer + 64<<20 }

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

// waitObject waits until a keyed HEAD shows key at its full size: the moment data written through a mount is in S3
// (at once after close for ssecfs and s3fs, later for rclone, whose close returns before the upload).
func (b *bench) waitObject(ctx context.Context, bucket, key string, size int64) error {
	deadline := time.Now().Add(b.cfg.stepTimeout)
	for {
		got, err := b.sdk.head(ctx, bucket, key, true)
		if err == nil && got == size {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s/%s not in S3 at full size after close (size %d, err %v)", bucket, key, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitCount waits until n objects are listed under prefix.
func (b *bench) waitCount(ctx context.Context, bucket, prefix string, n int) error {
	deadline := time.Now().Add(b.cfg.stepTimeout)
	for {
		got, err := b.sdk.countKeys(ctx, bucket, prefix)
		if err == nil && got >= n {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d objects in S3 under %s/%s (err %v)", got, n, bucket, prefix, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verifyObject checks an object a tool wrote: it must be SSE-C (a HEAD without the key fails) and, read with the key,
// hold what was written (the CRC for a large object, the bytes for a small one). The finding goes into the report.
func (b *bench) verifyObject(ctx context.Context, tool, bucket, key string, size int64, crc uint32, body []byte) error {
	_, plainErr := b.sdk.head(ctx, bucket, key, false)
	var finding string
	if plainErr == nil {
		finding = fmt.Sprintf("`%s`: **NOT SSE-C**: a HEAD without the key succeeded", key)
	} else {
		finding = fmt.Sprintf("`%s`: SSE-C (HEAD without the key: HTTP %d)", key, httpStatus(plainErr))
	}
	var err error
	if body != nil {
		buf := make([]byte, len(body)+1)
		n, gerr := b.sdk.getRange(ctx, bucket, key, 0, 0, buf)
		switch {
		case gerr != nil:
			err = fmt.Errorf("reading %s back with the key: %w", key, gerr)
		case !bytes.Equal(buf[:n], body):
			err = fmt.Errorf("%s in S3: %w", key, errMismatch)
		}
	} else {
		n, c, gerr := b.sdk.getAllCRC(ctx, bucket, key)
		switch {
		case gerr != nil:
			err = fmt.Errorf("reading %s back with the key: %w", key, gerr)
		case n != size || c != crc:
			err = fmt.Errorf("%s in S3 (%d bytes): %w", key, n, errMismatch)
		}
	}
	if err != nil {
		finding += "; content: " + errText(err)
	} else {
		finding += ", content as written"
	}
	b.res.addCheck(tool, finding)
	b.logf("%-7s check: %s", tool, strings.ReplaceAll(finding, "`", ""))
	return err
}
