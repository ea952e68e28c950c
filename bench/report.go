package main

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ssecfs/ssecfs/integration/s3server"
)

const colCeiling = "ceiling"

// Rows of the table, in order.
const (
	rowSeqWrite  = "seqwrite"
	rowSeqRead   = "seqread"
	rowRand4K    = "rand4k"
	rowRand1M    = "rand1m"
	rowCreate    = "create"
	rowReadSmall = "readsmall"
	rowList      = "list"
	rowListReq   = "listreq"
	rowRSS       = "rss"
)

var rowOrder = []string{rowSeqWrite, rowSeqRead, rowRand4K, rowRand1M, rowCreate, rowReadSmall, rowList, rowListReq, rowRSS}

func rowUnit(row string) string {
	switch row {
	case rowSeqWrite, rowSeqRead:
		return "MiB/s"
	case rowRand4K, rowRand1M:
		return "reads/s"
	case rowCreate, rowReadSmall:
		return "files/s"
	case rowList:
		return "entries/s"
	case rowListReq:
		return "requests"
	case rowRSS:
		return "MiB"
	}
	return ""
}

func rowLabelShort(row string) string {
	switch row {
	case rowSeqWrite:
		return "sequential write"
	case rowSeqRead:
		return "sequential read, cold"
	case rowRand4K:
		return "random 4 KiB reads"
	case rowRand1M:
		return "random 1 MiB reads"
	case rowCreate:
		return "create 4 KiB files"
	case rowReadSmall:
		return "read 4 KiB files back, cold"
	case rowList:
		return "ls -l"
	case rowListReq:
		return "S3 requests of ls -l"
	case rowRSS:
		return "peak RSS"
	}
	return row
}

func (b *bench) rowLabel(row string) string {
	c := b.cfg
	switch row {
	case rowSeqWrite:
		return fmt.Sprintf("Sequential write, %s, 1 MiB writes (MiB/s)", formatSize(c.size))
	case rowSeqRead:
		return fmt.Sprintf("Sequential read, %s, cold (MiB/s)", formatSize(c.size))
	case rowRand4K:
		return fmt.Sprintf("Random 4 KiB reads, %d one at a time (reads/s)", c.rand4k)
	case rowRand1M:
		return fmt.Sprintf("Random 1 MiB reads, %d one at a time (reads/s = MiB/s)", c.rand1m)
	case rowCreate:
		return fmt.Sprintf("Create %s files of 4 KiB (files/s)", commas(int64(c.smallFiles)))
	case rowReadSmall:
		return fmt.Sprintf("Read the %s files back, cold (files/s)", commas(int64(c.smallFiles)))
	case rowList:
		return fmt.Sprintf("`ls -l` of %s entries (entries/s)", commas(int64(c.listFiles)))
	case rowListReq:
		return "S3 requests sent by that `ls -l` (fewer is better)"
	case rowRSS:
		return "Peak RSS of the mount process, MiB (less is better)"
	}
	return row
}

// cell is one measurement: a value in the row's unit, or an error.
type cell struct {
	ok    bool
	value float64
	text  string // shown after the value
	err   string
	// otherLoad is the share of one CPU that other processes on the machine used during the measurement.
	otherLoad float64
}

// otherLoadLimit is the share of a CPU used by other work past which a measurement is marked as disturbed.
const otherLoadLimit = 0.25

type rssInfo struct {
	bytes    int64
	workload string
}

type results struct {
	mu     sync.Mutex
	cells  map[string]map[string]cell
	checks map[string][]string
	rss    map[string]rssInfo
}

func newResults() *results {
	return &results{cells: map[string]map[string]cell{}, checks: map[string][]string{}, rss: map[string]rssInfo{}}
}

func (r *results) set(row, col string, c cell) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cells[row] == nil {
		r.cells[row] = map[string]cell{}
	}
	r.cells[row][col] = c
}

func (r *results) get(row, col string) (cell, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cells[row][col]
	return c, ok
}

func (r *results) addCheck(tool, finding string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[tool] = append(r.checks[tool], finding)
}

func (r *results) noteRSS(tool string, bytes int64, workload string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if bytes > r.rss[tool].bytes {
		r.rss[tool] = rssInfo{bytes, workload}
	}
}

func (r *results) rssOf(tool string) rssInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rss[tool]
}

func rate(bytes int64, d time.Duration) cell {
	return cell{value: float64(bytes) / (1 << 20) / d.Seconds()}
}

func opsRate(n int, d time.Duration) cell {
	if d <= 0 {
		d = time.Nanosecond
	}
	return cell{value: float64(n) / d.Seconds()}
}

func seconds(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func formatMiB(n int64) string { return fmt.Sprintf("%s MiB", commas(n>>20)) }

func formatValue(row string, v float64) string {
	if row == rowListReq {
		return commas(int64(math.Round(v)))
	}
	switch {
	case v >= 1000:
		return commas(int64(math.Round(v)))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (b *bench) cellText(row, col string) string {
	c, ok := b.res.get(row, col)
	switch {
	case !ok && col == colCeiling && row == rowRSS:
		return "n/a"
	case !ok:
		return "not run"
	case !c.ok:
		return "failed: " + c.err
	}
	s := formatValue(row, c.value)
	if c.otherLoad > otherLoadLimit {
		s += " †"
	}
	if c.text != "" {
		s += " " + c.text
	}
	return s
}

// ratio is a/b of two measured cells, "—" if either is missing.
func (b *bench) ratio(row, colA, colB string) string {
	a, okA := b.res.get(row, colA)
	c, okB := b.res.get(row, colB)
	if !okA || !okB || !a.ok || !c.ok || c.value == 0 {
		return "—"
	}
	return formatRatio(a.value / c.value)
}

// formatRatio writes a ratio with two decimals, or two significant digits below 0.1.
func formatRatio(r float64) string {
	if r < 0.1 && r > 0 {
		return fmt.Sprintf("%.2gx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}

func (b *bench) hasTool(t string) bool {
	for _, x := range b.cfg.tools {
		if x == t {
			return true
		}
	}
	return false
}

// report is the markdown document: header, table, checks, verdicts, method.
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

	cols := []string{colCeiling}
	cols = append(cols, c.tools...)
	header := []string{"Workload", "SDK ceiling"}
	for _, t := range c.tools {
		header = append(header, t)
	}
	var ratios [][2]string
	if b.hasTool("ssecfs") {
		ratios = append(ratios, [2]string{"ssecfs", colCeiling})
		for _, t := range c.tools {
			if t != "ssecfs" {
				ratios = append(ratios, [2]string{"ssecfs", t})
			}
		}
	}
	for _, r := range ratios {
		name := r[1]
		if name == colCeiling {
			name = "ceiling"
		}
		header = append(header, "ssecfs/"+name)
	}
	fmt.Fprintf(&w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, row := range rowOrder {
		cells := []string{b.rowLabel(row)}
		for _, col := range cols {
			cells = append(cells, b.cellText(row, col))
		}
		for _, r := range ratios {
			cells = append(cells, b.ratio(row, r[0], r[1]))
		}
		fmt.Fprintf(&w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(&w)

	if d := b.disturbed(cols); d != "" {
		fmt.Fprintf(&w, "† Other processes on the machine used more than %.0f%% of a CPU during this measurement: %s.\n\n", 100*otherLoadLimit, d)
	}
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

// verdicts are the targets, each met or missed, with the numbers.
func (b *bench) verdicts() string {
	var w strings.Builder
	val := func(row, col string) (float64, bool) {
		c, ok := b.res.get(row, col)
		return c.value, ok && c.ok
	}
	line := func(name string, met bool, known bool, detail string) {
		state := "MET   "
		if !known {
			state = "N/A   "
		} else if !met {
			state = "MISSED"
		}
		fmt.Fprintf(&w, "%s %s: %s\n", state, name, detail)
	}
	ratioTo := func(row, col string, want float64, name string) {
		s, okS := val(row, "ssecfs")
		c, okC := val(row, col)
		if !okS || !okC {
			line(name, false, false, fmt.Sprintf("ssecfs %s, %s %s", b.cellText(row, "ssecfs"), col, b.cellText(row, col)))
			return
		}
		line(name, s >= want*c, true, fmt.Sprintf("ssecfs %s %s, %s %s %s = %.2fx (want >= %.2gx)",
			formatValue(row, s), rowUnit(row), col, formatValue(row, c), rowUnit(row), s/c, want))
	}
	ratioTo(rowSeqRead, colCeiling, 0.9, "seq read >= 0.9 x SDK ceiling")
	ratioTo(rowSeqWrite, colCeiling, 0.9, "seq write >= 0.9 x SDK ceiling")
	for _, peer := range []string{"s3fs", "rclone"} {
		if b.hasTool(peer) {
			ratioTo(rowSeqRead, peer, 2, "seq read >= 2x "+peer)
		}
	}
	for _, peer := range []string{"s3fs", "rclone"} {
		if !b.hasTool(peer) {
			continue
		}
		s, okS := val(rowSeqWrite, "ssecfs")
		p, okP := val(rowSeqWrite, peer)
		name := "seq write ahead of " + peer
		if !okS {
			line(name, false, false, "ssecfs "+b.cellText(rowSeqWrite, "ssecfs"))
		} else if !okP {
			// A peer that cannot write SSE-C at all is behind, by definition.
			line(name, true, true, fmt.Sprintf("ssecfs %s MiB/s, %s %s", formatValue(rowSeqWrite, s), peer, b.cellText(rowSeqWrite, peer)))
		} else {
			line(name, s > p, true, fmt.Sprintf("ssecfs %s MiB/s, %s %s MiB/s = %.2fx", formatValue(rowSeqWrite, s), peer, formatValue(rowSeqWrite, p), s/p))
		}
	}
	ratioTo(rowRand4K, colCeiling, 0.8, "random 4 KiB >= 0.8 x single keyed 4 KiB GETs")
	if r, ok := val(rowListReq, "ssecfs"); ok {
		line(fmt.Sprintf("ls -l of %s in <= 12 requests", commas(int64(b.cfg.listFiles))), r <= 12, true, b.cellText(rowListReq, "ssecfs"))
	} else {
		line("ls -l in <= 12 requests", false, false, b.cellText(rowListReq, "ssecfs"))
	}
	if r := b.res.rssOf("ssecfs"); r.bytes > 0 {
		line("peak RSS <= cache-size + write-buffer + 64 MiB", r.bytes <= b.rssBound(), true,
			fmt.Sprintf("%s (%s) vs %s", formatMiB(r.bytes), r.workload, formatMiB(b.rssBound())))
	} else {
		line("peak RSS <= cache-size + write-buffer + 64 MiB", false, false, "not measured")
	}
	return w.String()
}

// machine describes the host: CPUs, memory, kernel.
func machine() string {
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				mem = fmt.Sprintf("%.1f GiB memory", float64(kb)/(1<<20))
			}
		}
	}
	kernel := strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	s := fmt.Sprintf("%d CPUs", runtime.NumCPU())
	if model != "" {
		s += " (" + model + ")"
	}
	return fmt.Sprintf("%s, %s, Linux %s (`uname -r`)", s, mem, kernel)
}

// collectVersions notes the versions of the server, the peers and ssecfs.
func (b *bench) collectVersions() {
	b.cfg.peerVersions = map[string]string{}
	first := func(name string, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil && len(out) == 0 {
			return "unknown (" + errText(err) + ")"
		}
		return strings.TrimSpace(strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0])
	}
	b.cfg.weedVersion = "unknown"
	if bin, err := s3server.WeedBinary(); err == nil {
		b.cfg.weedVersion = strings.TrimPrefix(first(bin, "version"), "version ")
	}
	for _, t := range b.cfg.tools {
		switch t {
		case "s3fs":
			b.cfg.peerVersions[t] = first("s3fs", "--version")
		case "rclone":
			b.cfg.peerVersions[t] = first("rclone", "version")
		}
	}
	b.cfg.ssecfsVersion = "ssecfs"
	rev, modified := "", false
	if info, err := buildinfo.ReadFile(b.cfg.ssecfsBin); err == nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		// Built with -buildvcs=false: ask git (read-only; GIT_OPTIONAL_LOCKS=0 keeps status from refreshing the
		// index). The binary is assumed built from the work tree as it is now (make bench builds it first).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output(); err == nil {
			rev = strings.TrimSpace(string(out))
			st := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no", "--", "*.go", ":!bench")
			st.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
			if out, err := st.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
				modified = true
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		b.cfg.ssecfsVersion = "commit " + rev
		if modified {
			b.cfg.ssecfsVersion += " with uncommitted changes"
		}
	}
}

// cpuBusy returns the share of CPU time (all CPUs) spent busy over d, from /proc/stat.
func cpuBusy(d time.Duration) float64 {
	read := func() (busy, total float64) {
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line)
		for i, v := range f[1:] {
			var n float64
			fmt.Sscan(v, &n)
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 <= t0 {
		return 0
	}
	return (b1 - b0) / (t1 - t0)
}

func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// disturbed lists the measurements other work disturbed, with the share of a CPU it took.
func (b *bench) disturbed(cols []string) string {
	var out []string
	for _, row := range rowOrder {
		for _, col := range cols {
			if c, ok := b.res.get(row, col); ok && c.otherLoad > otherLoadLimit {
				name := col
				if col == colCeiling {
					name = "SDK ceiling"
				}
				out = append(out, fmt.Sprintf("%s, %s (%.0f%%)", name, rowLabelShort(row), 100*c.otherLoad))
			}
		}
	}
	return strings.Join(out, "; ")
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
