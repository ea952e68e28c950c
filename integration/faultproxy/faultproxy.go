// Package faultproxy is a TLS-terminating TCP proxy on loopback that sits between a
// client (ssecfs) and an S3 server and breaks connections on purpose: resets after a
// number of response bytes, responses lost after the server acted on the request,
// stalls in the middle of a response, refused connections and added latency.
//
// It terminates TLS with a CA of its own (CABundle holds it and the upstream's CA, for
// the client's trust settings) and offers only HTTP/1.1 in ALPN, so a client sends one
// request at a time on each connection, as it does against AWS. Requests and responses
// are found loosely from the direction of the bytes: the first bytes from the server
// after bytes from the client start a response (1xx interim answers such as
// "100 Continue" excepted). The bytes themselves are piped unchanged, so signatures
// (SigV4 covers the Host header) hold at the server.
//
// Faults can be changed at any time with Set or Update; every random choice comes from
// the proxy's seed and the connection's number, so a run can be reproduced.
package faultproxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Range is an inclusive range of byte counts; a zero Max means off.
type Range struct {
	Min, Max int64
}

func (r Range) on() bool { return r.Max > 0 }

// draw picks a count in [Min, Max].
func (r Range) draw(rng *rand.Rand) int64 {
	lo, hi := max(r.Min, 1), r.Max
	if hi <= lo {
		return lo
	}
	return lo + rng.Int64N(hi-lo+1)
}

// Faults says what the proxy breaks. The zero value breaks nothing.
type Faults struct {
	// ResetAfter resets a connection (RST to the client, upstream closed) once the
	// server has sent it a number of bytes drawn from this range. Each connection draws
	// its own count, and draws again when the faults are changed.
	ResetAfter Range
	// LoseResponses is the probability that a response is lost: the request reached
	// the server and the server answered, but the client's connection is reset when
	// the answer starts, so the client never hears it.
	LoseResponses float64
	// StallProb is the probability that a response stops in its middle (after part of
	// its first chunk) for StallFor before going on.
	StallProb float64
	StallFor  time.Duration
	// Refuse makes new connections be accepted and reset at once. Connections already
	// open go on (see ResetAll).
	Refuse bool
	// Latency is added before each chunk forwarded, either way.
	Latency time.Duration
}

// Stats are the proxy's counters since it started.
type Stats struct {
	Connections   int64 // connections accepted and proxied (not counting refused ones)
	Refused       int64 // connections reset at once because Refuse was set
	Responses     int64 // response starts seen (1xx interim answers not counted)
	Resets        int64 // connections reset by ResetAfter or ResetAll
	LostResponses int64 // responses lost (each also resets its connection)
	Stalls        int64 // responses stalled
	BytesUp       int64 // client -> server, forwarded
	BytesDown     int64 // server -> client, forwarded
}

func (s Stats) String() string {
	return fmt.Sprintf("%d connections (%d refused), %d responses, %d resets, %d responses lost, %d stalls, %d bytes up, %d bytes down",
		s.Connections, s.Refused, s.Responses, s.Resets, s.LostResponses, s.Stalls, s.BytesUp, s.BytesDown)
}

// Config says where the proxy forwards to.
type Config struct {
	// Upstream is the server's endpoint, "https://HOST:PORT".
	Upstream string
	// UpstreamCA is a PEM file of the CA(s) the upstream's certificate chains to.
	UpstreamCA string
	// Dir is where the CA bundle is written.
	Dir string
	// Seed makes the random choices reproducible.
	Seed uint64
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// Endpoint is "https://127.0.0.1:PORT", for the client.
	Endpoint string
	// CABundle is a PEM file with the proxy's CA and the upstream's, for the client.
	CABundle string

	seed     uint64
	upAddr   string
	upTLS    *tls.Config
	ln       net.Listener
	tlsConf  *tls.Config
	done     chan struct{}
	wg       sync.WaitGroup
	closeErr error
	closing  sync.Once

	mu     sync.Mutex
	faults Faults
	gen    uint64 // bumped by every change of faults
	conns  map[*conn]struct{}
	nconn  uint64

	connections, refused, responses, resets, lost, stalls, up, down atomic.Int64
}

const (
	handshakeTimeout = 10 * time.Second
	dialTimeout      = 10 * time.Second
	// lostDrainMax bounds how long a lost response is read (and dropped) before the
	// client's connection is reset.
	lostDrainMax = 200 * time.Millisecond
	chunkSize    = 32 << 10
)

// Start starts a proxy to cfg.Upstream on a free loopback port.
func Start(cfg Config) (*Proxy, error) {
	u, err := url.Parse(cfg.Upstream)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: upstream %q is not https://HOST:PORT", cfg.Upstream)
	}
	upCA, err := os.ReadFile(cfg.UpstreamCA)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(upCA) {
		return nil, fmt.Errorf("faultproxy: %s holds no PEM certificate", cfg.UpstreamCA)
	}
	cert, caPEM, err := SelfSignedTLS("ssecfs fault proxy CA")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	bundle := filepath.Join(cfg.Dir, "faultproxy-ca-bundle.pem")
	pemData := append(append(append([]byte{}, caPEM...), '\n'), upCA...)
	if err := os.WriteFile(bundle, pemData, 0o644); err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{
		Endpoint: "https://" + ln.Addr().String(),
		CABundle: bundle,
		seed:     cfg.Seed,
		upAddr:   u.Host,
		upTLS: &tls.Config{
			RootCAs:    pool,
			ServerName: u.Hostname(),
			NextProtos: []string{"http/1.1"},
			MinVersion: tls.VersionTLS12,
		},
		ln: ln,
		tlsConf: &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"http/1.1"}, // never h2: one request at a time per connection
			MinVersion:   tls.VersionTLS12,
		},
		done:  make(chan struct{}),
		conns: make(map[*conn]struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Seed is the seed the proxy's random choices come from.
func (p *Proxy) Seed() uint64 { return p.seed }

// Set replaces the faults; open connections apply them from their next chunk on.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	p.faults = f
	p.gen++
	p.mu.Unlock()
}

// Update changes the faults with fn, under the proxy's lock.
func (p *Proxy) Update(fn func(*Faults)) {
	p.mu.Lock()
	fn(&p.faults)
	p.gen++
	p.mu.Unlock()
}

// Faults returns the faults in force.
func (p *Proxy) Faults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

func (p *Proxy) current() (Faults, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults, p.gen
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Connections:   p.connections.Load(),
		Refused:       p.refused.Load(),
		Responses:     p.responses.Load(),
		Resets:        p.resets.Load(),
		LostResponses: p.lost.Load(),
		Stalls:        p.stalls.Load(),
		BytesUp:       p.up.Load(),
		BytesDown:     p.down.Load(),
	}
}

// ResetAll resets every open connection (idle ones included) and returns how many.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	n := 0
	for _, c := range cs {
		if c.reset() {
			p.resets.Add(1)
			n++
		}
	}
	return n
}

// Close stops the listener, closes every connection and waits for all goroutines.
func (p *Proxy) Close() error {
	p.closing.Do(func() {
		close(p.done)
		p.closeErr = p.ln.Close()
		p.mu.Lock()
		cs := make([]*conn, 0, len(p.conns))
		for c := range p.conns {
			cs = append(cs, c)
		}
		p.mu.Unlock()
		for _, c := range cs {
			c.close()
		}
	})
	p.wg.Wait()
	return p.closeErr
}

func (p *Proxy) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		raw, err := p.ln.Accept()
		if err != nil {
			if p.closed() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// A listener error other than closing: back off a little, bounded by Close.
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		f, _ := p.current()
		if f.Refuse {
			p.refused.Add(1)
			resetTCP(raw)
			continue
		}
		p.mu.Lock()
		if p.closed() {
			p.mu.Unlock()
			raw.Close()
			return
		}
		p.nconn++
		c := &conn{p: p, id: p.nconn, client: raw, done: make(chan struct{})}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		p.connections.Add(1)
		go c.serve()
	}
}

// resetTCP closes a TCP connection with an RST rather than a FIN.
func resetTCP(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

type conn struct {
	p      *Proxy
	id     uint64
	client net.Conn // raw TCP to the client
	mu     sync.Mutex
	up     net.Conn // raw TCP to the upstream, once dialled
	done   chan struct{}
	once   sync.Once
	// pending is set when client bytes have gone upstream since the last response
	// started: the next server bytes start a response.
	pending atomic.Bool
}

// reset closes both sides, the client's with an RST. It reports whether it was the one
// that closed the connection.
func (c *conn) reset() bool {
	did := false
	c.once.Do(func() {
		did = true
		close(c.done)
		resetTCP(c.client)
		c.mu.Lock()
		if c.up != nil {
			c.up.Close()
		}
		c.mu.Unlock()
	})
	return did
}

// close closes both sides normally.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		c.mu.Lock()
		if c.up != nil {
			c.up.Close()
		}
		c.mu.Unlock()
	})
}

// sleep waits d, or less if the connection or the proxy closes; it reports whether the
// whole wait passed.
func (c *conn) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	case <-c.p.done:
		return false
	}
}

func (c *conn) serve() {
	defer c.p.wg.Done()
	defer func() {
		c.close()
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	}()

	// Bounded in time; Close also ends them, by closing the connections under them.
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()

	ctls := tls.Server(c.client, c.p.tlsConf)
	if err := ctls.HandshakeContext(ctx); err != nil {
		return
	}
	d := net.Dialer{Timeout: dialTimeout}
	rawUp, err := d.DialContext(ctx, "tcp", c.p.upAddr)
	if err != nil {
		c.reset()
		return
	}
	c.mu.Lock()
	select {
	case <-c.done: // closed meanwhile
		c.mu.Unlock()
		rawUp.Close()
		return
	default:
	}
	c.up = rawUp
	c.mu.Unlock()
	utls := tls.Client(rawUp, c.p.upTLS)
	if err := utls.HandshakeContext(ctx); err != nil {
		c.reset()
		return
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.upward(ctls, utls)
		c.close()
	}()
	c.downward(utls, ctls)
	c.close()
	wg.Wait()
}

// upward copies client -> server.
func (c *conn) upward(from io.Reader, to io.Writer) {
	buf := make([]byte, chunkSize)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			f, _ := c.p.current()
			if !c.sleep(f.Latency) {
				return
			}
			c.pending.Store(true) // before the write: the answer may come at once
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
			c.p.up.Add(int64(n))
		}
		if err != nil {
			return
		}
	}
}

var httpPrefix = []byte("HTTP/")

// interim reports whether b starts with a 1xx status line ("HTTP/1.1 100 Continue").
func interim(b []byte) bool {
	sp := bytes.IndexByte(b, ' ')
	return bytes.HasPrefix(b, httpPrefix) && sp > 0 && sp+1 < len(b) && b[sp+1] == '1'
}

// downward copies server -> client, applying the faults.
func (c *conn) downward(from io.Reader, to io.Writer) {
	rng := rand.New(rand.NewPCG(c.p.seed, c.id))
	var (
		sent      int64 // bytes forwarded to the client
		budget    int64 = -1
		budgetGen uint64
		armed     bool // after a 1xx answer, the next bytes start the final one
		first     = true
	)
	buf := make([]byte, chunkSize)
	for {
		n, err := from.Read(buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			f, gen := c.p.current()
			if first || gen != budgetGen {
				first, budgetGen = false, gen
				budget = -1
				if f.ResetAfter.on() {
					budget = sent + f.ResetAfter.draw(rng)
				}
			}
			start := (c.pending.Swap(false) || armed) && bytes.HasPrefix(chunk, httpPrefix)
			armed = false
			var rest []byte
			if start && interim(chunk) {
				// Pass 1xx answers on; what follows them is the final answer.
				start = false
				armed = true
				if i := bytes.Index(chunk, []byte("\r\n\r\n")); i >= 0 && i+4 < len(chunk) {
					chunk, rest = chunk[:i+4], chunk[i+4:]
				}
			}
			stallAt := -1
			if start {
				c.p.responses.Add(1)
				if f.LoseResponses > 0 && rng.Float64() < f.LoseResponses {
					c.lose(from, chunk)
					return
				}
				if f.StallProb > 0 && f.StallFor > 0 && rng.Float64() < f.StallProb {
					stallAt = 0
					if len(chunk) > 1 {
						stallAt = 1 + rng.IntN(len(chunk)-1)
					}
				}
			}
			if !c.sleep(f.Latency) {
				return
			}
			out := chunk
			cut := budget >= 0 && sent+int64(len(out)) >= budget
			if cut {
				out = out[:budget-sent]
			}
			if stallAt >= 0 && stallAt < len(out) {
				if !c.forward(to, out[:stallAt]) {
					return
				}
				sent += int64(stallAt)
				out = out[stallAt:]
				c.p.stalls.Add(1)
				if !c.sleep(f.StallFor) {
					return
				}
			}
			if !c.forward(to, out) {
				return
			}
			sent += int64(len(out))
			if cut {
				// Counted as decided, whoever closes the connection first.
				c.p.resets.Add(1)
				c.reset()
				return
			}
			chunk = rest
		}
		if err != nil {
			return
		}
	}
}

func (c *conn) forward(to io.Writer, b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if _, err := to.Write(b); err != nil {
		return false
	}
	c.p.down.Add(int64(len(b)))
	return true
}

// lose drops the answer that starts with chunk: it reads on until the answer's header
// has arrived (the server has acted by then) or a short while has passed, then resets
// the client's connection.
func (c *conn) lose(from io.Reader, chunk []byte) {
	head := append([]byte(nil), chunk...)
	if dl, ok := from.(interface{ SetReadDeadline(time.Time) error }); ok {
		dl.SetReadDeadline(time.Now().Add(lostDrainMax))
	}
	buf := make([]byte, chunkSize)
	for !bytes.Contains(head, []byte("\r\n\r\n")) && len(head) < 1<<20 {
		n, err := from.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			break
		}
	}
	c.p.lost.Add(1)
	c.reset()
}
