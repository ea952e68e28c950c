package main

import (
	"bytes"
	"context"
	"fmt"
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
