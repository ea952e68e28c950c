package main

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/ssecfs/ssecfs/bucket"
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
	fmt.Fprintf(&w, "| workloads | %s; large object %s; dataset %d files of %s; small-file tree %s files of %s; %s of each |\n",
		b.workloadList(), formatSize(c.size), c.treeFiles, formatSize(c.treeFileSize), commas(int64(c.smallTreeFiles)), formatSize(c.smallTreeSize), plural(c.runs, "run"))
	fmt.Fprintf(&w, "| HTTP | the SDK ceiling and ssecfs over HTTP/%s, each at ssecfs's transport settings for that version (%s); the peers as they are |\n",
		strings.Join(c.protocols, " and HTTP/"), transportNote())
	fmt.Fprintf(&w, "| SDK ceiling | aws-sdk-go-v2: parallel ranged keyed GETs of %s, %d in flight (in a child process, for its CPU time); keyed multipart PUT of %s parts, %d in flight; "+
		"trees as whole-object keyed GETs (into files) and PUTs, %d in flight; random reads as single keyed ranged GETs, one at a time |\n",
		formatSize(c.partSize), c.concurrency, formatSize(c.partSize), c.concurrency, c.copyJobs)
	fmt.Fprintf(&w, "| ssecfs | %s; `ssecfs mount --http-version VERSION %s` (background mode) |\n", c.ssecfsVersion, strings.Join(b.ssecfsFlags(), " "))
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
	if b.base.file != "" && len(b.base.ratios) > 0 {
		fmt.Fprintf(&w, "The no-regression verdicts compare with the ratios of the report this one replaced (`%s`).\n\n", b.base.file)
	}

	b.writeTable(&w)
	fmt.Fprintf(&w, "## Verdicts\n\n```\n%s```\n\n", b.verdicts())

	fmt.Fprintf(&w, "## Objects written through each mount\n\n")
	for _, col := range b.cols {
		if col.tool == colCeiling {
			continue
		}
		checks := summarizeChecks(b.res.checks[col.label()])
		if len(checks) == 0 {
			checks = []string{"nothing written (see the table)"}
		}
		fmt.Fprintf(&w, "- %s: %s\n", col.label(), strings.Join(checks, "; "))
	}
	fmt.Fprintln(&w)

	fmt.Fprintf(&w, "## How it is measured\n\n")
	fmt.Fprintf(&w, "- One SeaweedFS server per run. What every column reads is written with the SDK beforehand into one bucket "+
		"(`%s`, multipart with %s parts; the trees one PutObject a file), so every tool reads the same objects; each column writes into a bucket of its own. "+
		"%s: every workload of every column in turn, round after round, so that a drift of the machine spreads over every column. "+
		"A cell is the median of the runs with their range; treat differences under 10%% as noise.\n", bigObject, formatSize(c.partSize), plural(c.runs, "round"))
	fmt.Fprintf(&w, "- Sequential write: Go code writes the object in 1 MiB writes from a deterministic generator into a new file, timed through `close`, "+
		"and then until a keyed HEAD shows the object complete in S3 (it already is, at close, for ssecfs and s3fs; rclone uploads after close). "+
		"The object is then read back with the SDK and checked.\n")
	fmt.Fprintf(&w, "- Sequential read: 1 MiB reads front to back on a fresh mount, CRC-32C checked. The ceiling reads the same bytes with %d ranged GETs of %s in flight, "+
		"in a child process of its own, discarding them.\n", c.concurrency, formatSize(c.partSize))
	fmt.Fprintf(&w, "- Client CPU per GiB: the user and system time of the process serving the mount (`/proc/PID/stat`, all threads) from just before the "+
		"sequential read to just after, over the GiB read; for the ceiling, its child process's own (`getrusage`) over its read, not counting "+
		"its start and its client's setup. Neither counts the reader: the bench's reads and CRC for a mount, nothing for the ceiling, which drops the data. "+
		"The kernel's work for FUSE in the reading process is not counted either.\n")
	fmt.Fprintf(&w, "- Trees: the dataset (%d files of %s) and the small files (%s of %s) are directories of the data bucket. "+
		"Out: `cp -r MNT/DIR DEST` on a fresh mount, and %d `cp` at once, each given %d consecutive files of the listing, into a tmpfs; "+
		"the ceiling fetches the same objects with whole-object GETs, %d in flight, into files of the same tmpfs. Every copy is then checked file by file (CRC-32C). "+
		"In: `cp -r` of the dataset from the tmpfs into a new directory of the mount, timed until every object is complete in S3; "+
		"the ceiling PUTs the same files, %d in flight. Every object copied in is then checked to be SSE-C (a HEAD without the key is refused) and read back.\n",
		c.treeFiles, formatSize(c.treeFileSize), commas(int64(c.smallTreeFiles)), formatSize(c.smallTreeSize), c.copyJobs, (c.treeFiles+c.copyJobs-1)/c.copyJobs,
		c.copyJobs, c.copyJobs)
	fmt.Fprintf(&w, "- Random reads: `pread` at offsets aligned to the read size (the same seeded offsets for every column), one at a time, on a fresh mount with "+
		"`POSIX_FADV_RANDOM` (as fio does); the time counted is the time in `pread` (for the ceiling, in the GET). Every read is checked.\n")
	fmt.Fprintf(&w, "- Small files: %s files of 4 KiB written one after another (each closed before the next) into a new directory, timed until all are listed in S3; "+
		"then read back one after another on a fresh mount. The ceiling is one PutObject, then one GetObject, per file, one at a time.\n", commas(int64(c.smallFiles)))
	fmt.Fprintf(&w, "- `ls -l`: a directory of %s objects written with the SDK (32 at a time) before mounting; `ls -l` on a fresh mount. "+
		"The requests are counted once, in the first round, on a fresh mount whose endpoint is a counting TLS proxy in front of the server (all requests from the start of `ls` to its end). "+
		"The ceiling is ListObjectsV2 with delimiter `/`.\n", commas(int64(c.listFiles)))
	fmt.Fprintf(&w, "- Peak RSS: `VmHWM` of the process serving the mount, read before each unmount; the largest over the workloads and rounds. "+
		"ssecfs's bound is `--cache-size` + `--write-buffer` + 64 MiB = %s.\n", formatMiB(b.rssBound()))
	fmt.Fprintf(&w, "- Part size and upload concurrency of the peers are set to ssecfs's (%s, %d) rather than left at their defaults.\n", formatSize(c.partSize), c.concurrency)
	fmt.Fprintf(&w, "- `ls -l` through the peers: s3fs sends HEADs for every entry (it reads each object's metadata), rclone one HEAD per entry "+
		"(for the modification time it keeps in metadata; `--use-server-modtime` would spare them). ssecfs takes sizes and times from the listing.\n")
	fmt.Fprintf(&w, "- Plaintext on local disk: ssecfs keeps none (memory only). s3fs stages files it reads and writes in temporary files (unlinked, under /tmp). "+
		"rclone with `--vfs-cache-mode writes` (needed to write files) keeps every file written in plain text in its cache directory until it is uploaded and evicted.\n")
	return w.String()
}

// plural is "1 run", "3 runs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// workloadList names the workload groups run.
func (b *bench) workloadList() string {
	var names []string
	for _, g := range workloadGroups {
		if b.cfg.workloads[g.name] {
			names = append(names, g.name)
		}
	}
	return strings.Join(names, ", ")
}

// transportNote says what bucket.TuneTransport sets, read from a transport it tuned.
func transportNote() string {
	tr := &http.Transport{}
	if err := bucket.TuneTransport(tr, bucket.HTTPAuto); err != nil {
		return "unknown"
	}
	bufs := "net/http's default buffers (4KiB)"
	if tr.ReadBufferSize != 0 || tr.WriteBufferSize != 0 {
		bufs = fmt.Sprintf("read and write buffers of %s and %s", formatSize(int64(tr.ReadBufferSize)), formatSize(int64(tr.WriteBufferSize)))
	}
	windows := "net/http's default receive windows (4MiB a stream, 1GiB a connection)"
	if h2 := tr.HTTP2; h2 != nil && (h2.MaxReceiveBufferPerStream != 0 || h2.MaxReceiveBufferPerConnection != 0) {
		windows = fmt.Sprintf("receive windows of %s a stream and %s a connection",
			formatSize(int64(h2.MaxReceiveBufferPerStream)), formatSize(int64(h2.MaxReceiveBufferPerConnection)))
	}
	return fmt.Sprintf("HTTP/1.1: %s, %d idle connections kept per host; HTTP/2: %s", bufs, tr.MaxIdleConnsPerHost, windows)
}

// summarizeChecks folds the findings of identical checks of several runs into one, with a count.
func summarizeChecks(checks []string) []string {
	var order []string
	count := map[string]int{}
	for _, c := range checks {
		if count[c] == 0 {
			order = append(order, c)
		}
		count[c]++
	}
	for i, c := range order {
		if count[c] > 1 {
			order[i] = fmt.Sprintf("%s (%d times)", c, count[c])
		}
	}
	return order
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
