package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// report is the markdown document: header, table (table.go), verdicts (verdicts.go), checks, method.
func (b *bench) report(elapsed time.Duration) string {
	b.elapsed = elapsed
	var w strings.Builder
	c := b.cfg
	fmt.Fprintf(&w, "# ssecfs benchmarks\n\n")
	fmt.Fprintf(&w, "Made by `make bench` (`go run ./bench %s`) on %s; the run took %s. ",
		c.commandLine, time.Now().UTC().Format("2006-01-02 15:04 UTC"), elapsed.Round(time.Second))
	fmt.Fprintf(&w, "Every object is SSE-C encrypted with one fresh random key; every request that reads or writes data carries it.\n\n")

	fmt.Fprintf(&w, "| | |\n|---|---|\n")
	fmt.Fprintf(&w, "| machine | %s |\n", machine())
	fmt.Fprintf(&w, "| other load | %s |\n", b.loadNote())
	fmt.Fprintf(&w, "| Go | %s |\n", runtime.Version())
	fmt.Fprintf(&w, "| S3 server | SeaweedFS %s (`weed mini`), S3 over TLS on 127.0.0.1, on the same machine (so it shares the two cores with the client) |\n", c.weedVersion)
	fmt.Fprintf(&w, "| object size | %s |\n", formatSize(c.size))
	fmt.Fprintf(&w, "| SDK ceiling | aws-sdk-go-v2: parallel ranged keyed GETs of %s, %d in flight; keyed multipart PUT of %s parts, %d in flight; random reads as single keyed ranged GETs, one at a time |\n",
		formatSize(c.partSize), c.concurrency, formatSize(c.partSize), c.concurrency)
	fmt.Fprintf(&w, "| ssecfs | %s; `ssecfs mount %s` (background mode) |\n", c.ssecfsVersion, strings.Join(b.ssecfsFlags(), " "))
	if b.hasTool("s3fs") {
		fmt.Fprintf(&w, "| s3fs | %s; `s3fs BUCKET MNT -f -o url=https://127.0.0.1:PORT -o passwd_file=FILE -o use_sse=custom:KEYFILE -o %s`, CA trusted through `CURL_CA_BUNDLE` |\n",
			c.peerVersions["s3fs"], strings.Join(b.s3fsOptions(), " -o "))
	}
	if b.hasTool("rclone") {
		fmt.Fprintf(&w, "| rclone | %s; `rclone mount bench:BUCKET MNT --ca-cert CA %s`; remote: `type = s3`, `provider = Other`, `sse_customer_algorithm = AES256`, `sse_customer_key_base64`, `sse_customer_key_md5`, `chunk_size = %dMi`, `upload_concurrency = %d` |\n",
			c.peerVersions["rclone"], strings.Join(b.rcloneFlags(), " "), c.partSize>>20, c.concurrency)
	}
	drop := "not asked (-drop-caches=false)"
	if c.dropCaches {
		drop = "`echo 3 > /proc/sys/vm/drop_caches` before every read workload of every column"
		if !c.dropCachesOK {
			drop = "asked, but not permitted here (read-only /proc/sys): reads are cold for the client only (fresh mount), the server's files may be in the page cache"
		}
	}
	fmt.Fprintf(&w, "| caches | every workload of every tool on a fresh mount; %s |\n\n", drop)

	b.writeTable(&w)
	fmt.Fprintf(&w, "## Verdicts\n\n```\n%s```\n\n", b.verdicts())

	fmt.Fprintf(&w, "## Objects written through each mount\n\n")
	for _, t := range c.tools {
		checks := b.res.checks[t]
		if len(checks) == 0 {
			checks = []string{"nothing written (see the table)"}
		}
		fmt.Fprintf(&w, "- %s: %s\n", t, strings.Join(checks, "; "))
	}
	fmt.Fprintln(&w)

	fmt.Fprintf(&w, "## How it is measured\n\n")
	fmt.Fprintf(&w, "- One SeaweedFS server per run, a bucket per tool; the read workloads read `%s`, written into each bucket with the SDK beforehand "+
		"(multipart, %s parts), so every tool reads the same object layout. Every cell is one run, not a mean: treat differences under 10%% as noise.\n", bigObject, formatSize(c.partSize))
	fmt.Fprintf(&w, "- Sequential write: Go code writes the object in 1 MiB writes from a deterministic generator into a new file, timed through `close`, "+
		"and then until a keyed HEAD shows the object complete in S3 (it already is, at close, for ssecfs and s3fs; rclone uploads after close). "+
		"The object is then read back with the SDK and checked.\n")
	fmt.Fprintf(&w, "- Sequential read: 1 MiB reads front to back on a fresh mount, CRC-32C checked. The ceiling reads the same bytes with %d ranged GETs of %s in flight.\n",
		c.concurrency, formatSize(c.partSize))
	fmt.Fprintf(&w, "- Random reads: `pread` at offsets aligned to the read size (the same seeded offsets for every column), one at a time, on a fresh mount with "+
		"`POSIX_FADV_RANDOM` (as fio does); the time counted is the time in `pread` (for the ceiling, in the GET). Every read is checked.\n")
	fmt.Fprintf(&w, "- Small files: %s files of 4 KiB written one after another (each closed before the next) into a new directory, timed until all are listed in S3; "+
		"then read back one after another on a fresh mount. The ceiling is one PutObject, then one GetObject, per file, one at a time.\n", commas(int64(c.smallFiles)))
	fmt.Fprintf(&w, "- `ls -l`: a directory of %s objects written with the SDK (32 at a time) before mounting; `ls -l` on a fresh mount. "+
		"The requests are counted on a second fresh mount whose endpoint is a counting TLS proxy in front of the server (all requests from the start of `ls` to its end). "+
		"The ceiling is ListObjectsV2 with delimiter `/`.\n", commas(int64(c.listFiles)))
	fmt.Fprintf(&w, "- Peak RSS: `VmHWM` of the process serving the mount, read before each unmount; the largest over the workloads. "+
		"ssecfs's bound is `--cache-size` + `--write-buffer` + 64 MiB = %s.\n", formatMiB(b.rssBound()))
	fmt.Fprintf(&w, "- Part size and upload concurrency of the peers are set to ssecfs's (%s, %d) rather than left at their defaults.\n", formatSize(c.partSize), c.concurrency)
	fmt.Fprintf(&w, "- `ls -l` through the peers: s3fs sends HEADs for every entry (it reads each object's metadata), rclone one HEAD per entry "+
		"(for the modification time it keeps in metadata; `--use-server-modtime` would spare them). ssecfs takes sizes and times from the listing.\n")
	fmt.Fprintf(&w, "- Plaintext on local disk: ssecfs keeps none (memory only). s3fs stages files it reads and writes in temporary files (unlinked, under /tmp). "+
		"rclone with `--vfs-cache-mode writes` (needed to write files) keeps every file written in plain text in its cache directory until it is uploaded and evicted.\n")
	return w.String()
}

func (b *bench) hasTool(t string) bool {
	for _, x := range b.cfg.tools {
		if x == t {
			return true
		}
	}
	return false
}

// loadNote says how busy the machine was with other work, which skews every number (two cores only).
func (b *bench) loadNote() string {
	s := fmt.Sprintf("CPU %.0f%% busy before the run; load average %s at the start, %s at the end", 100*b.busyBefore, b.loadStart, loadAvg())
	if b.mon != nil {
		other := b.mon.otherSeconds()
		s += fmt.Sprintf("; other processes used %.0f CPU-seconds during the run (%.0f%% of one CPU on average)", other, 100*other/b.elapsed.Seconds())
		if top := b.mon.top(3); top != "" {
			s += ": " + top
		}
		if other/b.elapsed.Seconds() > otherLoadLimit {
			s += " — **numbers marked † are skewed by that work**"
		}
	}
	return s
}
