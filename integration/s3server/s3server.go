// Package s3server runs a real S3 server for integration tests: a SeaweedFS "weed mini" process serving S3 over TLS
// (and plain HTTP) on loopback ports, with its own CA, credentials and data directory.
//
// The weed binary comes from scripts/build-weed.sh (see WeedBinary). Weed's output goes to Dir/weed.log.
package s3server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	readyTimeout = 60 * time.Second // Start/Restart: until the S3 HTTPS port answers a signed request
	stopTimeout  = 10 * time.Second // Stop: SIGTERM grace period before SIGKILL
	killTimeout  = 10 * time.Second // after SIGKILL, until the process is reaped
	logTailLines = 40
)

// Server is a running SeaweedFS S3 gateway over TLS on loopback with its own CA, credentials and data dir.
type Server struct {
	Endpoint             string // "https://127.0.0.1:PORT"
	HTTPEndpoint         string // "http://127.0.0.1:PORT" (plain HTTP port, for tests that check we refuse http)
	CAFile               string // PEM of the generated CA (the server cert is for 127.0.0.1, ::1 and localhost)
	AccessKey, SecretKey string
	Region               string // "us-east-1"
	Dir                  string

	bin                      string
	ports                    ports
	certFile, keyFile        string
	identitiesFile           string
	logPath                  string
	awsConfig, awsCredential string

	mu sync.Mutex // serializes Stop, Kill and Restart
	p  *proc      // the current weed process, nil when stopped
}

// ports are the HTTP ports given to weed; each service's gRPC port is the HTTP port + grpcOffset.
type ports struct {
	s3, s3HTTPS, master, volume, filer, admin int
}

type proc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process has exited and been reaped
	err    error         // cmd.Wait's result, valid after done
	logOff int64         // where this run's output starts in weed.log
}

// Start starts a server in dir (normally a fresh, empty directory) and waits, at most 60 s, until its S3 HTTPS port
// answers a signed ListBuckets. On failure it returns an error that includes the tail of weed's log.
func Start(dir string) (*Server, error) {
	bin, err := WeedBinary()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	s := &Server{
		AccessKey:      "AK" + strings.ToUpper(randHex(9)),
		SecretKey:      randHex(20),
		Region:         "us-east-1",
		Dir:            dir,
		CAFile:         filepath.Join(dir, "ca.pem"),
		bin:            bin,
		certFile:       filepath.Join(dir, "server.pem"),
		keyFile:        filepath.Join(dir, "server-key.pem"),
		identitiesFile: filepath.Join(dir, "s3-identities.json"),
		logPath:        filepath.Join(dir, "weed.log"),
		awsConfig:      filepath.Join(dir, "aws-config"),
		awsCredential:  filepath.Join(dir, "aws-credentials"),
	}
	if err := s.writeFiles(); err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}

	// Ports are checked free just before weed starts, but another process may take one in between; weed then exits at
	// once saying so, and we try again with other ports.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ps, err := pickPorts(6)
		if err != nil {
			return nil, err
		}
		s.ports = ports{s3: ps[0], s3HTTPS: ps[1], master: ps[2], volume: ps[3], filer: ps[4], admin: ps[5]}
		s.Endpoint = "https://127.0.0.1:" + strconv.Itoa(s.ports.s3HTTPS)
		s.HTTPEndpoint = "http://127.0.0.1:" + strconv.Itoa(s.ports.s3)
		s.mu.Lock()
		lastErr = s.startLocked()
		s.mu.Unlock()
		if lastErr == nil {
			return s, nil
		}
		var se *startError
		if !errors.As(lastErr, &se) || !se.portConflict {
			break
		}
	}
	return nil, lastErr
}

// StartT is Start for tests: it runs the server in t.TempDir(), stops it in t.Cleanup (logging the tail of weed's log
// if the test failed), and calls t.Fatal with the reason if the server does not start.
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatalf("starting S3 server: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tail of %s:\n%s", s.logPath, s.LogTail(logTailLines))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stopping S3 server: %v", err)
		}
	})
	return s
}

// Stop stops the server: SIGTERM, then SIGKILL if it has not exited within 10 s. It is idempotent, and returns nil if
// the server is already stopped.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	p := s.p
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("s3server: SIGTERM: %w", err)
		}
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			return s.killLocked()
		}
	}
	s.p = nil
	s.removeStaleSockets()
	return nil
}

// Kill kills the server with SIGKILL at once (to simulate a crash mid-transfer) and waits until it is gone. It is
// idempotent.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	p := s.p
	if p == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("s3server: SIGKILL: %w", err)
	}
	select {
	case <-p.done:
	case <-time.After(killTimeout):
		return fmt.Errorf("s3server: weed (pid %d) still running %v after SIGKILL", p.cmd.Process.Pid, killTimeout)
	}
	s.p = nil
	s.removeStaleSockets()
	return nil
}

// removeStaleSockets removes the Unix sockets weed keeps in /tmp for its gRPC services (named by port, no flag to move
// them) once weed is gone: it leaves some behind on a clean exit and all of them when killed. A socket that still
// accepts connections belongs to someone else who took the port since, and is left alone.
func (s *Server) removeStaleSockets() {
	for _, svc := range []struct {
		name string
		port int
	}{{"master", s.ports.master}, {"volume", s.ports.volume}, {"filer", s.ports.filer}, {"s3", s.ports.s3}, {"admin", s.ports.admin}} {
		path := fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", svc.name, svc.port+grpcOffset)
		if _, err := os.Lstat(path); err != nil {
			continue
		}
		if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			c.Close()
			continue
		}
		_ = os.Remove(path)
	}
}

// Restart starts the server again on the same ports, credentials, certificates and data dir, and waits (at most 60 s)
// until it answers. It is meant for after Stop or Kill; if the server is still running, it is stopped first.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		return err
	}
	return s.startLocked()
}

// Done returns a channel that is closed when the current weed process exits (already closed if none is running).
// After Restart, call it again for the new process.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.p.done
}

// LogTail returns the last n lines of weed's log (Dir/weed.log), for failure messages.
func (s *Server) LogTail(n int) string {
	return readTail(s.logPath, 0, n)
}

// Client returns an AWS SDK v2 S3 client for Endpoint: path-style addressing, static credentials, the server's CA as
// the only trusted root (set on the http.Client itself; nothing is read from the environment or ~/.aws, so
// AWS_CA_BUNDLE, AWS_PROFILE, AWS_ENDPOINT_URL and the like have no effect), and request checksum calculation and
// response checksum validation "when required".
func (s *Server) Client(ctx context.Context) (*s3.Client, error) {
	return s.newClient(s.Endpoint)
}

// CreateBucket creates a bucket via the SDK.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	c, err := s.Client(ctx)
	if err != nil {
		return err
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("s3server: creating bucket %q: %w", name, err)
	}
	return nil
}

// Env returns the environment variables a child process (the ssecfs binary) needs to reach this server with the
// standard AWS credential chain: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE naming empty files in Dir (so ~/.aws is never read) and AWS_EC2_METADATA_DISABLED=true.
// It names neither the endpoint nor the CA: pass Endpoint and CAFile explicitly. Append it to os.Environ() (later
// entries win in os/exec).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_CONFIG_FILE=" + s.awsConfig,
		"AWS_SHARED_CREDENTIALS_FILE=" + s.awsCredential,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

func (s *Server) newClient(endpoint string, optFns ...func(*s3.Options)) (*s3.Client, error) {
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("s3server: no certificate in %s", s.CAFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // loopback only; never through HTTP(S)_PROXY
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	// A literal aws.Config rather than config.LoadDefaultConfig: the latter reads AWS_CA_BUNDLE, shared config files
	// and profiles from the environment, and fails outright on AWS_CA_BUNDLE with a plain *http.Client.
	cfg := aws.Config{
		Region:                     s.Region,
		Credentials:                aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")),
		HTTPClient:                 &http.Client{Transport: tr},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	opts := append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}}, optFns...)
	return s3.NewFromConfig(cfg, opts...), nil
}

func (s *Server) writeFiles() error {
	if err := writeTLSFiles(s.CAFile, s.certFile, s.keyFile); err != nil {
		return err
	}
	type credential struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	type identity struct {
		Name        string       `json:"name"`
		Credentials []credential `json:"credentials"`
		Actions     []string     `json:"actions"`
	}
	ids, err := json.MarshalIndent(map[string][]identity{"identities": {{
		Name:        "test",
		Credentials: []credential{{AccessKey: s.AccessKey, SecretKey: s.SecretKey}},
		Actions:     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.identitiesFile, ids, 0o600); err != nil {
		return err
	}
	for _, f := range []string{s.awsConfig, s.awsCredential} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// args are weed's command line. Every port is explicit, so two servers never collide on a default, and a port that is
// taken makes weed exit at once rather than quietly move to another one.
func (s *Server) args() []string {
	p := s.ports
	a := []string{
		"-logtostderr", // everything to stderr (our weed.log), no glog files in /tmp
		"mini",
		"-dir=" + s.Dir,
		"-ip=127.0.0.1",
		"-ip.bind=127.0.0.1",
		"-master.port=" + strconv.Itoa(p.master),
		"-volume.port=" + strconv.Itoa(p.volume),
		"-filer.port=" + strconv.Itoa(p.filer),
		"-s3.port=" + strconv.Itoa(p.s3),
		"-s3.port.https=" + strconv.Itoa(p.s3HTTPS),
		"-s3.cert.file=" + s.certFile,
		"-s3.key.file=" + s.keyFile,
		"-s3.config=" + s.identitiesFile,
		"-s3.autoCreateBucket=false", // like AWS: a PUT into a missing bucket is NoSuchBucket
		// The admin server runs even with -admin.ui=false (it hosts the maintenance worker's gRPC).
		"-admin.ui=false",
		"-admin.port=" + strconv.Itoa(p.admin),
		"-admin.port.legacy=0",
		"-webdav=false",
		"-s3.port.iceberg=0",
		"-s3.port.lance=0",
		"-master.telemetry=false",
		// Every bucket (a test's) is a collection that grows several 128 MB volumes at
		// its first write; the default limit (free disk / volume size) runs out after a
		// hundred buckets or so, and writes then fail with 500. Volumes are sparse.
		"-volume.max=4000",
	}
	// Unix sockets for local filer and S3 traffic default to /tmp/seaweedfs-{filer,s3}-PORT.sock; keep them in Dir
	// when the path fits in sun_path (108 bytes).
	if sock := filepath.Join(s.Dir, "filer.sock"); len(sock) < 100 {
		a = append(a, "-filer.localSocket="+sock, "-s3.localSocket="+filepath.Join(s.Dir, "s3.sock"))
	}
	return a
}

// childEnv is our environment without anything weed would take as configuration (WEED_*; AWS_ACCESS_KEY_ID and
// friends, which weed's S3 gateway turns into an extra identity; S3_BUCKET and the like), with HOME set to Dir so
// ~/.seaweedfs is not read either.
func (s *Server) childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "WEED_") || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "S3_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+s.Dir)
}

// startError is a failure to start weed; portConflict means weed reported a port it could not use.
type startError struct {
	msg          string
	portConflict bool
}

func (e *startError) Error() string { return e.msg }

// startLocked launches weed and waits until it is ready. s.mu must be held and s.p must be nil.
func (s *Server) startLocked() error {
	p, err := s.launch()
	if err != nil {
		return err
	}
	s.p = p
	if err := s.waitReady(p); err != nil {
		_ = s.killLocked()
		log := readTail(s.logPath, p.logOff, logTailLines)
		conflict := strings.Contains(log, "not available") || strings.Contains(log, "address already in use") ||
			strings.Contains(log, "reserved for gRPC")
		return &startError{
			msg:          fmt.Sprintf("s3server: weed mini in %s: %v; tail of %s:\n%s", s.Dir, err, s.logPath, log),
			portConflict: conflict,
		}
	}
	return nil
}

// launch starts weed with its output appended to weed.log. The goroutine that starts weed keeps its OS thread locked
// until weed exits: Pdeathsig fires when the starting thread dies, and an unlocked thread could be retired by the
// runtime while weed still runs.
func (s *Server) launch() (*proc, error) {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	off, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("s3server: %w", err)
	}
	args := s.args()
	fmt.Fprintf(logf, "=== s3server %s: %s %s\n", time.Now().Format(time.RFC3339), s.bin, strings.Join(args, " "))

	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.Dir
	cmd.Env = s.childEnv()
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = procAttr()
	p := &proc{cmd: cmd, done: make(chan struct{}), logOff: off}

	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer logf.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		fmt.Fprintf(logf, "=== s3server %s: weed exited: %v\n", time.Now().Format(time.RFC3339), p.err)
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("s3server: starting %s: %w", s.bin, err)
	}
	return p, nil
}

// waitReady waits, at most readyTimeout, until weed serves: a signed ListBuckets over HTTPS succeeds (proving TLS, our
// CA and our credentials), and the master has left its warm-up. A master restarted on a data dir that already holds
// volumes refuses to assign file ids for 15 s after it becomes leader (SeaweedFS's fixed 5 s pulse times 3), so a PUT
// right after a Restart would hang in weed's internal retries for that long; we wait it out here instead, probing with
// a lookup of a volume id that does not exist (503 while warming up, then 404; no side effect).
func (s *Server) waitReady(p *proc) error {
	c, err := s.newClient(s.Endpoint, func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()
	lookup := "http://127.0.0.1:" + strconv.Itoa(s.ports.master) + "/dir/lookup?volumeId=4294967295"
	s3Ready := false
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("weed exited during startup (%v)", p.err)
		default:
		}
		var err error
		if !s3Ready {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
			cancel()
			if err == nil {
				s3Ready = true
			} else {
				err = fmt.Errorf("S3 HTTPS port %s: %w", s.Endpoint, err)
			}
		}
		if s3Ready {
			var resp *http.Response
			if resp, err = hc.Get(lookup); err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable {
					return nil
				}
				err = fmt.Errorf("master still warming up (%s)", resp.Status)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", readyTimeout, err)
		}
		select {
		case <-p.done:
			return fmt.Errorf("weed exited during startup (%v)", p.err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readTail returns the last n lines of path from offset off on (reading at most the last 64 KiB).
func readTail(path string, off int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if start := end - 64<<10; start > off {
		off = start
	}
	if off > end {
		off = end
	}
	buf := make([]byte, end-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return tail(string(buf), n)
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
