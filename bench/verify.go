package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
)

// What a tool wrote, seen from S3: waiting until it is there, then checking that it is SSE-C and as written.

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

// waitTree waits until every file of t is listed under prefix at its full size.
func (b *bench) waitTree(ctx context.Context, bucket, prefix string, t *tree) error {
	deadline := time.Now().Add(b.cfg.stepTimeout)
	for {
		sizes, err := b.sdk.listSizes(ctx, bucket, prefix)
		complete := 0
		for _, name := range t.names() {
			if sizes[name] == t.size {
				complete++
			}
		}
		if err == nil && complete == t.files {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d files complete in S3 under %s/%s (err %v)", complete, t.files, bucket, prefix, err)
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
