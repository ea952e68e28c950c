// Command bench measures ssecfs against the AWS SDK's ceiling and against s3fs and rclone mount, all on SSE-C
// objects of a local SeaweedFS S3 server over TLS, in one run, and writes a markdown report: docs/BENCHMARKS.md.
//
// Each tool runs every workload on a fresh mount of its own bucket; the SDK ceiling runs the same workloads with
// plain keyed requests, at ssecfs's part size and concurrency:
//   - sequential write, and cold sequential read, of one -size object in 1 MiB system calls (MiB/s);
//   - random 4 KiB and 1 MiB preads at seeded offsets, one at a time (reads/s);
//   - creating -small-files files of 4 KiB one after another, then reading them back cold (files/s);
//   - ls -l of a directory of -list-files objects (entries/s), and the S3 requests it sends, counted by a TLS proxy;
//   - the peak RSS of the process serving the mount.
//
// Every read is checked against the data written, and every object a tool writes is read back with the SDK and
// checked to be SSE-C. The report ends with verdicts on ssecfs's targets: sequential read and write at least 0.9x
// the SDK ceiling, sequential read at least 2x each peer and sequential write ahead of it, random 4 KiB reads at
// least 0.8x single keyed GETs, ls -l in at most 12 requests, and peak RSS within its configured bound.
//
// To run it:
//
//	make bench                        # installs s3fs and rclone, builds bin/ssecfs, writes docs/BENCHMARKS.md
//	make bench BENCH_SIZE=256MiB      # a quicker run
//	go run ./bench -size 1GiB -out docs/BENCHMARKS.md
//	go run ./bench -tools ssecfs -size 64MiB -out /tmp/bench.md   # ssecfs alone: no peers needed
//
// It runs as root on Linux with /dev/fuse, like the integration tests, with bin/ssecfs (make build, or -ssecfs) and
// the SeaweedFS binary of make deps. It waits for other work on the machine to end (-wait-idle, -quiet-wait) and
// marks the numbers other processes disturbed. Everything it starts (the server, every mount, the peers' processes)
// is taken down when it ends, is interrupted (SIGINT, SIGTERM), or runs out of time (-timeout); BENCH_KEEP=1 leaves
// its work directory, with the log of every mount, in place. It is not a test: `make test` does not run it, and
// nothing in the test suite depends on timings.
//
// The code, a concern a file: main.go (flags), bench.go (one run, in order), ceiling.go and tools.go (the
// workloads of the SDK ceiling and of a mounted tool), workloads.go (the system calls on a mount), verify.go
// (objects written, checked in S3), sdk.go (the SDK client), key.go, gen.go (the data and the offsets), mount.go,
// mount_ssecfs.go and mount_peers.go (mounting and unmounting each tool), proxy.go (the counting proxy), load.go and
// proc.go (other work on the machine, /proc), results.go and rows.go (the measurements), report.go, table.go,
// verdicts.go, host.go and format.go (the report).
package main
