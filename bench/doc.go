// Command bench measures ssecfs against the AWS SDK's ceiling and against s3fs and rclone mount, all on SSE-C
// objects of a local SeaweedFS S3 server over TLS, in one run, and writes a markdown report: docs/BENCHMARKS.md.
//
// The SDK ceiling and ssecfs run over HTTP/1.1 (what AWS S3 speaks) and over HTTP/2 (what Go negotiates with
// SeaweedFS), both at ssecfs's transport settings for that version (bucket.TuneTransport; ssecfs --http-version);
// the peers run as they are (s3fs speaks HTTP/1.1 through libcurl, rclone HTTP/2 with this server). Each column runs
// every workload on a fresh mount, in rounds (-runs, 3): a cell is the median of its runs, shown with their range.
// The SDK ceiling runs the same workloads with plain keyed requests, at ssecfs's part size and concurrency:
//   - sequential write, and cold sequential read, of one -size object in 1 MiB system calls (MiB/s), and the client
//     CPU seconds per GiB of that read: the mount process's user and system time (/proc/PID/stat) against the
//     ceiling's, which reads in a child process of its own for that (child.go);
//   - a dataset tree (-tree-files files of -tree-file-size, 64 x 8 MiB) copied out with one `cp -r`, and with
//     -copy-jobs `cp` at once, into a tmpfs (MiB/s); its ceiling is whole-object GETs, -copy-jobs at once;
//   - a tree of small files (-small-tree-files of -small-tree-file-size, 400 x 64 KiB) copied out with `cp -r`
//     (files/s), against the same ceiling;
//   - the dataset copied into the mount from the tmpfs with `cp -r` (MiB/s), against whole-object PUTs, -copy-jobs
//     at once;
//   - random 4 KiB and 1 MiB preads at seeded offsets, one at a time (reads/s);
//   - creating -small-files files of 4 KiB one after another, then reading them back cold (files/s);
//   - ls -l of a directory of -list-files objects (entries/s), and the S3 requests it sends, counted by a TLS proxy
//     (which also sees the HTTP version each tool speaks);
//   - the peak RSS of the process serving the mount.
//
// Every read is checked against the data written (the trees file by file after the copy), and every object a tool
// writes is read back with the SDK and checked to be SSE-C. The report ends with verdicts on ssecfs's targets
// (issue 12), over each HTTP version against the SDK ceiling over that version: large-file sequential read and write
// at least 0.9x; dataset `cp -r` out at least 0.7x the tree download, and the parallel `cp` at least 0.85x; small
// files `cp -r` out at least 0.5x; `cp -r` in at least 0.8x the tree upload; client CPU per GiB read at most 1.2x the
// ceiling's; no regression on random 4 KiB and 1 MiB reads (at least 0.8x single keyed GETs, and at least 0.9x the
// ratio of the report being replaced, -baseline); peak RSS within cache, write buffer and 64 MiB. And once:
// sequential read at least 1.3x s3fs (over the version s3fs speaks), ls -l in at most 12 requests.
//
// To run it:
//
//	make bench                        # installs s3fs and rclone, builds bin/ssecfs, writes docs/BENCHMARKS.md
//	make bench BENCH_SIZE=256MiB      # a quicker run
//	make bench BENCH_FLAGS='-runs 1 -protocols 1.1'
//	go run ./bench -size 1GiB -out docs/BENCHMARKS.md
//	go run ./bench -tools ssecfs -size 64MiB -out /tmp/bench.md   # ssecfs alone: no peers needed
//	go run ./bench -tools ssecfs -size 64MiB -runs 1 -tree-files 16 -small-tree-files 100 -list-files 1000 \
//		-workloads seq,tree -out /tmp/bench.md                  # a quick look at a few workloads
//
// The default run (1 GiB, three rounds, both HTTP versions, both peers) takes about half an hour on two quiet cores.
//
// It runs as root on Linux with /dev/fuse, like the integration tests, with bin/ssecfs (make build, or -ssecfs) and
// the SeaweedFS binary of make deps. It waits for other work on the machine to end (-wait-idle, -quiet-wait, within
// -quiet-budget in all) and marks the numbers other processes disturbed. Everything it starts (the server, every
// mount, the peers' processes, the tmpfs of the copies) is taken down when it ends, is interrupted (SIGINT,
// SIGTERM), or runs out of time (-timeout); BENCH_KEEP=1 leaves its work directory, with the log of every mount, in
// place. It is not a test: `make test` does not run it, and
// nothing in the test suite depends on timings.
//
// The code, a concern a file: main.go (flags), bench.go (one run, in order), columns.go (the ceiling and ssecfs over
// each HTTP version, the peers), ceiling.go and tools.go (the workloads of the SDK ceiling and of a mounted tool),
// child.go (the ceiling's read in a child process, for its CPU time), workloads.go (the system calls on a mount),
// trees.go (the dataset and small-file trees: copies with cp, checks), verify.go (objects written, checked in S3),
// sdk.go (the SDK client), key.go, gen.go (the data and the offsets), mount.go, mount_ssecfs.go and mount_peers.go
// (mounting and unmounting each tool), proxy.go (the counting proxy), load.go and proc.go (other work on the machine,
// /proc), results.go and rows.go (the measurements, their medians), report.go, table.go, verdicts.go, baseline.go
// (the report replaced, for the no-regression verdicts), host.go and format.go (the report).
package main
