package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ssecfs/ssecfs/integration/faultproxy"
)

// The TestFault tests put a fault-injecting proxy (integration/faultproxy) between the
// mount and the S3 server and check what a user must be able to count on whatever the
// network does: a read gives the object's bytes exactly or fails with EIO (never a short
// read, never wrong bytes); a close that returns 0 saved the new content, one that fails
// left the old; no conflict copies or multipart uploads are left by our own retries.
//
// SSECFS_FAULT_SEED repeats a run (every test logs its seed); SSECFS_STRESS_SCALE
// multiplies the amount of work (default 1).

// faultSeed is SSECFS_FAULT_SEED, or a new seed, logged so that a failure can be rerun.
func faultSeed(t *testing.T) uint64 {
	t.Helper()
	seed := envSeed(t, "SSECFS_FAULT_SEED")
	t.Logf("seed %d (rerun with SSECFS_FAULT_SEED=%d)", seed, seed)
	return seed
}

// startFaultProxy starts a proxy in front of f's server, faultless until told, and
// closes it when t ends (after the mounts made through it are gone).
func startFaultProxy(t *testing.T, f *fixture, seed uint64) *faultproxy.Proxy {
	t.Helper()
	px, err := faultproxy.Start(faultproxy.Config{
		Upstream:   f.srv.Endpoint,
		UpstreamCA: f.srv.CAFile,
		Dir:        t.TempDir(),
		Seed:       seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := px.Close(); err != nil {
			t.Errorf("closing the fault proxy: %v", err)
		}
	})
	return px
}

// faultMount mounts f's bucket with the binary through px (its endpoint and CA bundle),
// logging to a file that is shown if t fails, and unmounts it when t ends. The faults
// are cleared first, so that the unmount is not disturbed.
func faultMount(t *testing.T, f *fixture, px *faultproxy.Proxy, extra ...string) string {
	t.Helper()
	mp, err := os.MkdirTemp(f.dir, "faultmnt")
	if err != nil {
		t.Fatal(err)
	}
	logFile := mp + ".log"
	args := append([]string{"mount"}, extra...)
	args = append(args, "--endpoint", px.Endpoint, "--ca-bundle", px.CABundle, "--key-file", f.keyFile,
		"--log-file", logFile, f.bucket, mp)
	out, code := f.ssecfs(nil, args...)
	if code != 0 || !isMounted(mp) {
		t.Fatalf("ssecfs mount through the fault proxy exited %d (mounted: %v):\n%s", code, isMounted(mp), out)
	}
	t.Cleanup(func() {
		unmount(t, mp)
		if t.Failed() {
			faultLogTail(t, logFile, 40)
		}
	})
	t.Cleanup(func() { px.Set(faultproxy.Faults{}) })
	return mp
}

// faultLogTail logs the last n warnings and errors of the mount's log.
func faultLogTail(t *testing.T, path string, n int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for _, l := range lines {
		t.Logf("ssecfs log: %.400s", l)
	}
}

// faultRead reads path whole, 1 MiB at a time, and returns what it read before the
// first error.
func faultRead(path string) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var out bytes.Buffer
	buf := make([]byte, wpMiB)
	for {
		n, err := file.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

// faultWrite replaces path with data, 1 MiB per write, and returns the first error of
// the writes and the error of close, apart.
func faultWrite(path string, data []byte) (writeErr, closeErr error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err, nil
	}
	for off := 0; off < len(data); off += wpMiB {
		if _, err := file.Write(data[off:min(off+wpMiB, len(data))]); err != nil {
			writeErr = err
			break
		}
	}
	return writeErr, file.Close()
}

// faultSizes are n sizes from 1 KiB to 12 MiB: one in four from 8 MiB up (multipart,
// at the default 8 MiB parts), the others spread evenly on a log scale.
func faultSizes(n int, r *rand.Rand) []int {
	sizes := make([]int, n)
	for i := range sizes {
		if i%4 == 3 {
			sizes[i] = 8*wpMiB + r.IntN(4*wpMiB+1)
		} else {
			sizes[i] = int(math.Exp(math.Log(1024) + r.Float64()*(math.Log(8*wpMiB)-math.Log(1024))))
		}
	}
	return sizes
}

// faultConflicts lists the keys of f's bucket that are conflict copies.
func faultConflicts(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	for _, k := range bucketKeys(t, f, "") {
		if strings.Contains(k, ".conflict-") {
			out = append(out, k)
		}
	}
	return out
}

// faultUploads lists the multipart uploads open in f's bucket, as "key (id)".
func faultUploads(t *testing.T, f *fixture) []string {
	t.Helper()
	var ups []string
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(f.bucket)}
	for range 100 {
		out, err := f.s3.ListMultipartUploads(context.Background(), in)
		if err != nil {
			t.Fatalf("ListMultipartUploads: %v", err)
		}
		for _, u := range out.Uploads {
			ups = append(ups, fmt.Sprintf("%s (%s)", aws.ToString(u.Key), aws.ToString(u.UploadId)))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	return ups
}

// faultWaitNoUploads waits, at most limit, until no multipart upload is open in f's
// bucket (aborts that failed are retried in the background), and returns those left.
func faultWaitNoUploads(t *testing.T, f *fixture, limit time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(limit)
	ups := faultUploads(t, f)
	for len(ups) != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		ups = faultUploads(t, f)
	}
	return ups
}

// faultReadOutcome says what a whole read of a file gave, against the versions the file
// may hold: "" for one of them exactly, "EIO" for a clean failure, else what went wrong.
func faultReadOutcome(got []byte, err error, versions ...[]byte) string {
	if err != nil {
		for _, v := range versions {
			if len(got) <= len(v) && bytes.Equal(got, v[:len(got)]) {
				if errors.Is(err, syscall.EIO) {
					return "EIO"
				}
				return fmt.Sprintf("failed with %v (not EIO) after %d bytes", err, len(got))
			}
		}
		return fmt.Sprintf("failed with %v after %d bytes, of which some were wrong", err, len(got))
	}
	for _, v := range versions {
		if bytes.Equal(got, v) {
			return ""
		}
	}
	for _, v := range versions {
		if len(got) < len(v) && bytes.Equal(got, v[:len(got)]) {
			return fmt.Sprintf("short read: %d bytes of %d, then EOF", len(got), len(v))
		}
	}
	return fmt.Sprintf("wrong bytes: %s", wpDiff(got, versions[len(versions)-1]))
}

// A 64 MiB object read whole through the mount while the connections are reset every
// few MiB, and every few hundred KiB, of answer: the read gives the object's bytes
// exactly or fails with EIO, never a short read or wrong bytes; and since a broken body
// is resumed from where it broke, it succeeds.
func TestFaultReadsUnderResets(t *testing.T) {
	seed := faultSeed(t)
	f := newFixture(t)
	const size = 64 * wpMiB
	data := randomBytes(size, seed)
	f.put("big.bin", data)
	reads := stressScaled(t, 1)

	for i, tc := range []struct {
		name  string
		reset faultproxy.Range
	}{
		{"every_1-6MiB", faultproxy.Range{Min: 1 * wpMiB, Max: 6 * wpMiB}},
		{"every_256KiB-1MiB", faultproxy.Range{Min: 256 << 10, Max: 1 * wpMiB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px := startFaultProxy(t, f, seed+uint64(i))
			for r := range reads {
				mp := faultMount(t, f, px) // a new mount: nothing cached
				px.Set(faultproxy.Faults{ResetAfter: tc.reset})
				start := time.Now()
				got, err := faultRead(filepath.Join(mp, "big.bin"))
				took := time.Since(start)
				px.Set(faultproxy.Faults{})
				outcome := faultReadOutcome(got, err, data)
				s := px.Stats()
				t.Logf("read %d of %d MiB with resets every %d-%d KiB: %d bytes in %v, outcome %q; proxy: %v",
					r+1, size/wpMiB, tc.reset.Min>>10, tc.reset.Max>>10, len(got), took.Round(time.Millisecond), outcome, s)
				switch outcome {
				case "":
				case "EIO":
					t.Errorf("the read failed with EIO after %d of %d bytes (%d resets so far): a body broken by a reset must be resumed, not failed",
						len(got), size, s.Resets)
				default:
					t.Errorf("the read broke an invariant: %s", outcome)
				}
				unmount(t, mp)
			}
		})
	}
}

// Files written through the mount while 30% of the answers are lost (the server stored
// the request, the mount never heard back): every close returns 0, every object holds
// what was written, no conflict copy appears (the mount must recognise its own write),
// and no multipart upload is left once background aborts had their chance.
func TestFaultLostResponses(t *testing.T) {
	seed := faultSeed(t)
	f := newFixture(t)
	r := rand.New(rand.NewPCG(seed, 1))
	n := stressScaled(t, 30)
	sizes := faultSizes(n, r)
	names := make([]string, n)
	contents := make([][]byte, n)
	for i := range n {
		names[i] = fmt.Sprintf("f%03d", i)
		contents[i] = randomBytes(sizes[i], seed+uint64(i)+1)
		if i%3 == 0 { // a third replace an object that exists
			f.put(names[i], randomBytes(1000+i, seed+uint64(i)+5000))
		}
	}
	px := startFaultProxy(t, f, seed)
	mp := faultMount(t, f, px)
	px.Set(faultproxy.Faults{LoseResponses: 0.3})

	type result struct{ writeErr, closeErr error }
	results := make([]result, n)
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				w, c := faultWrite(filepath.Join(mp, names[i]), contents[i])
				results[i] = result{w, c}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	px.Set(faultproxy.Faults{})
	s := px.Stats()

	var failedCloses, mismatches int
	var verified int64
	for i, res := range results {
		if res.writeErr != nil || res.closeErr != nil {
			failedCloses++
			t.Errorf("%s (%d bytes): write error %v, close error %v; want both nil", names[i], sizes[i], res.writeErr, res.closeErr)
		}
		got, err := f.getObject(names[i])
		if err != nil || !bytes.Equal(got, contents[i]) {
			mismatches++
			t.Errorf("%s in S3: %v, %s; want the %d bytes written", names[i], err, wpDiff(got, contents[i]), sizes[i])
			continue
		}
		verified += int64(len(got))
	}
	conflicts := faultConflicts(t, f)
	if len(conflicts) != 0 {
		t.Errorf("%d conflict copies in the bucket, with no other writer: %v", len(conflicts), conflicts)
	}
	ups := faultWaitNoUploads(t, f, 60*time.Second)
	if len(ups) != 0 {
		t.Errorf("%d multipart uploads still open 60 s after the writes: %v", len(ups), ups)
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	t.Logf("seed %d: %d files (%d MiB) written in %v; %d closes failed, %d objects wrong, %d bytes verified, %d conflict copies, %d uploads left; proxy: %v",
		seed, n, total/wpMiB, took.Round(time.Millisecond), failedCloses, mismatches, verified, len(conflicts), len(ups), s)
	if s.LostResponses == 0 {
		t.Errorf("no response was lost: the test proves nothing")
	}
}

// Existing objects rewritten through the mount, round after round, under a mix of
// resets, lost answers and stalls: a close that returns 0 saved the new content; a
// close (or write) that fails with EIO left the old content whole; never a mix, never a
// missing object; and every read through the mount gives a complete version or EIO.
func TestFaultRewriteUnderMixedFaults(t *testing.T) {
	seed := faultSeed(t)
	f := newFixture(t)
	r := rand.New(rand.NewPCG(seed, 2))
	n := stressScaled(t, 12)
	const rounds = 2
	names := make([]string, n)
	current := make([][]byte, n)    // what S3 holds
	versions := make([][][]byte, n) // every content the key may hold
	for i, size := range faultSizes(n, r) {
		names[i] = fmt.Sprintf("doc%03d", i)
		current[i] = randomBytes(size, seed+uint64(i)+100)
		versions[i] = [][]byte{current[i]}
		f.put(names[i], current[i])
	}
	px := startFaultProxy(t, f, seed)
	mp := faultMount(t, f, px)
	faults := faultproxy.Faults{
		ResetAfter:    faultproxy.Range{Min: 512 << 10, Max: 8 * wpMiB},
		LoseResponses: 0.1,
		StallProb:     0.05,
		StallFor:      1500 * time.Millisecond,
	}
	px.Set(faults)
	t.Logf("faults: %+v", faults)

	var (
		writes, saved, failed, violations int
		reads, readsOK, readsEIO          int
		verified                          int64
	)
	for round := range rounds {
		fresh := make([][]byte, n)
		for i, size := range faultSizes(n, r) {
			fresh[i] = randomBytes(size, seed+uint64(1000*(round+1)+i))
			versions[i] = append(versions[i], fresh[i])
		}
		type result struct{ writeErr, closeErr error }
		results := make([]result, n)
		var wg sync.WaitGroup
		next := make(chan int)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					w, c := faultWrite(filepath.Join(mp, names[i]), fresh[i])
					results[i] = result{w, c}
				}
			}()
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()

		// What S3 holds, read with the SDK straight from the server.
		for i, res := range results {
			writes++
			got, err := f.getObject(names[i])
			ok := res.writeErr == nil && res.closeErr == nil
			switch {
			case ok:
				saved++
			case errors.Is(res.writeErr, syscall.EIO) || (res.writeErr == nil && errors.Is(res.closeErr, syscall.EIO)):
				failed++
			default:
				violations++
				t.Errorf("round %d, %s: write error %v, close error %v; want success or EIO", round, names[i], res.writeErr, res.closeErr)
			}
			switch {
			case err != nil:
				violations++
				t.Errorf("round %d, %s after a close that returned %v: SDK read failed: %v", round, names[i], res.closeErr, err)
			case ok && !bytes.Equal(got, fresh[i]):
				violations++
				t.Errorf("round %d, %s: close returned 0 but S3 holds %s; want the new %d bytes (old content: %v)",
					round, names[i], wpDiff(got, fresh[i]), len(fresh[i]), bytes.Equal(got, current[i]))
			case !ok && !bytes.Equal(got, current[i]):
				violations++
				t.Errorf("round %d, %s: write/close failed (%v / %v) but S3 holds %s; want the old %d bytes whole (new content saved: %v)",
					round, names[i], res.writeErr, res.closeErr, wpDiff(got, current[i]), len(current[i]), bytes.Equal(got, fresh[i]))
			default:
				verified += int64(len(got))
			}
			if err == nil {
				current[i] = got // go on from what is there
			}
		}

		// Every read through the mount, faults still on: a complete version or EIO.
		for i := range n {
			reads++
			got, err := faultRead(filepath.Join(mp, names[i]))
			switch outcome := faultReadOutcome(got, err, versions[i]...); outcome {
			case "":
				readsOK++
				verified += int64(len(got))
			case "EIO":
				readsEIO++
			default:
				violations++
				t.Errorf("round %d, reading %s through the mount: %s", round, names[i], outcome)
			}
		}
	}
	px.Set(faultproxy.Faults{})
	s := px.Stats()
	conflicts := faultConflicts(t, f)
	if len(conflicts) != 0 {
		violations++
		t.Errorf("%d conflict copies in the bucket, with no other writer: %v", len(conflicts), conflicts)
	}
	// Aborts of uploads that failed are retried in the background: give them time.
	left := faultWaitNoUploads(t, f, 60*time.Second)
	if len(left) != 0 {
		violations++
		t.Errorf("%d multipart uploads still open 60 s after the rewrites: %v", len(left), left)
	}
	t.Logf("seed %d: %d rewrites (%d saved, %d failed cleanly), %d reads (%d whole, %d EIO), %d bytes verified, %d violations, %d conflict copies, %d uploads open; proxy: %v",
		seed, writes, saved, failed, reads, readsOK, readsEIO, verified, violations, len(conflicts), len(left), s)
	if s.Resets+s.LostResponses+s.Stalls == 0 {
		t.Errorf("no fault happened: the test proves nothing")
	}
}

// A read started while the server cannot be reached (every new connection refused, the
// open ones reset) rides through a refusal of about 3 s: the requests back off for about
// fifteen seconds before giving up.
func TestFaultRefusalRidesThrough(t *testing.T) {
	seed := faultSeed(t)
	f := newFixture(t)
	data := randomBytes(6*wpMiB+123, seed)
	f.put("doc", data)
	px := startFaultProxy(t, f, seed)
	mp := faultMount(t, f, px)
	const refusal = 3 * time.Second

	for round := range stressScaled(t, 1) {
		px.Set(faultproxy.Faults{Refuse: true})
		reset := px.ResetAll()
		before := px.Stats()
		start := time.Now()
		type result struct {
			got  []byte
			err  error
			took time.Duration
		}
		done := make(chan result, 1)
		go func() {
			got, err := faultRead(filepath.Join(mp, "doc"))
			done <- result{got, err, time.Since(start)}
		}()
		time.Sleep(refusal)
		px.Set(faultproxy.Faults{})
		refused := px.Stats().Refused - before.Refused
		select {
		case res := <-done:
			outcome := faultReadOutcome(res.got, res.err, data)
			t.Logf("round %d: refusing for %v (%d open connections reset, %d refused): read of %d bytes took %v, outcome %q",
				round, refusal, reset, refused, len(res.got), res.took.Round(time.Millisecond), outcome)
			if outcome != "" {
				t.Errorf("a read started during a %v refusal: %s; want it to ride through", refusal, outcome)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("a read started during a %v refusal had not returned 90 s later", refusal)
		}
		if refused == 0 {
			t.Errorf("no connection was refused: the read did not meet the refusal, and the test proves nothing")
		}
		// The next round starts from nothing cached.
		if round+1 < stressScaled(t, 1) {
			unmount(t, mp)
			mp = faultMount(t, f, px)
		}
	}
}
