// Package faultproxy is a fault-injecting proxy for tests. It sits between a
// DynamoDB client and a DynamoDB-API server (dynalite), reads each HTTP/1.1
// request and, depending on the mode in effect, forwards it or fails it the
// way networks and DynamoDB fail: refused and reset connections, hangs,
// latency, 5xx answers, throttling, and ambiguous failures where the server
// applied the request but the client never learns of it.
//
// Modes switch mid-test. Each switch cuts the client's pooled connections so
// that the next request meets the new mode on a fresh connection. Forwarded
// tells whether a request reached the server.
package faultproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Mode says what the proxy does with a request.
type Mode int

const (
	// Pass forwards every request and returns the server's answer.
	Pass Mode = iota
	// Refuse closes the listening socket: connection attempts are refused
	// by the kernel (ECONNREFUSED) and no request is sent.
	Refuse
	// Reset reads the request and resets the connection (RST) without
	// forwarding it.
	Reset
	// Hang reads the request and never answers, until the mode changes or
	// the proxy closes; the request is not forwarded.
	Hang
	// Delay waits the latency set by SetDelay, then forwards the request.
	// Like a slow network, it forwards even if the client gave up meanwhile.
	Delay
	// Status500 answers HTTP 500 (InternalServerError) without forwarding.
	Status500
	// Throttle answers HTTP 400 ProvisionedThroughputExceededException
	// without forwarding.
	Throttle
	// Throttling answers HTTP 400 ThrottlingException without forwarding.
	Throttling
	// ForwardThenReset forwards the request, so the server applies it, then
	// resets the connection instead of returning the answer.
	ForwardThenReset
	// ForwardThen500 forwards the request, so the server applies it, then
	// answers HTTP 500 instead of the server's answer.
	ForwardThen500
)

var modeNames = [...]string{"Pass", "Refuse", "Reset", "Hang", "Delay", "Status500", "Throttle", "Throttling",
	"ForwardThenReset", "ForwardThen500"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// DefaultDelay is the latency of Delay until SetDelay changes it.
const DefaultDelay = 100 * time.Millisecond

// Proxy is a running fault-injecting proxy. Its methods are safe for
// concurrent use.
type Proxy struct {
	tb        testing.TB
	upstream  string
	addr      string
	transport *http.Transport
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu      sync.Mutex
	ln      net.Listener // nil while refusing
	mode    Mode
	left    int                              // requests left before the mode reverts to Pass; 0: no limit
	match   func(*http.Request, []byte) bool // nil: every request meets the mode
	delay   time.Duration
	changed chan struct{} // closed when the mode changes
	conns   map[*conn]struct{}
	closed  bool

	requests  atomic.Int64
	forwarded atomic.Int64
}

// conn is a client connection. busy is set while a request is being served;
// stale once a mode switch has cut the connection.
type conn struct {
	nc          *net.TCPConn
	busy, stale bool
	done        chan struct{} // closed when the connection's handler returns
}

// New starts a proxy in mode Pass on a free loopback port in front of
// upstream (a base URL such as "http://127.0.0.1:8000"). It closes when the
// test ends.
func New(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faultproxy: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		tb:        tb,
		upstream:  upstream,
		addr:      ln.Addr().String(),
		transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true},
		ctx:       ctx,
		cancel:    cancel,
		ln:        ln,
		delay:     DefaultDelay,
		changed:   make(chan struct{}),
		conns:     make(map[*conn]struct{}),
	}
	p.wg.Add(1)
	go p.serve(ln)
	tb.Cleanup(p.Close)
	return p
}

// URL returns the proxy's base URL, for a client's endpoint.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Requests returns how many requests the proxy has read from clients.
// Refused connections carry no request and are not counted.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// Forwarded returns how many requests reached the server and were answered
// by it: the requests the server applied.
func (p *Proxy) Forwarded() int64 { return p.forwarded.Load() }

// Mode returns the mode in effect.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Set switches to mode m for every request from now on and cuts the
// connections that clients hold open, so pooled connections meet m too.
// A request being served finishes in the mode it started in.
func (p *Proxy) Set(m Mode) { p.set(m, 0) }

// SetFor applies m to the next n requests, then reverts to Pass without
// cutting connections. It suits retry tests: "throttle twice, then answer".
// Refuse cannot be counted (the proxy never sees refused connections), so
// SetFor panics for it.
func (p *Proxy) SetFor(m Mode, n int) {
	if m == Refuse || n < 1 {
		panic(fmt.Sprintf("faultproxy: SetFor(%v, %d): want a request-level mode and n >= 1", m, n))
	}
	p.set(m, n)
}

// SetForMatching is SetFor for only the requests match accepts (it sees the
// request and its body): others pass, and do not count toward n. It aims a
// fault at one call of a client that sends several at once.
func (p *Proxy) SetForMatching(m Mode, n int, match func(req *http.Request, body []byte) bool) {
	if m == Refuse || n < 1 || match == nil {
		panic(fmt.Sprintf("faultproxy: SetForMatching(%v, %d): want a request-level mode, n >= 1 and a match", m, n))
	}
	p.setMatch(m, n, match)
}

// SetDelay sets the latency of Delay and switches to it.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
	p.Set(Delay)
}

func (p *Proxy) set(m Mode, n int) { p.setMatch(m, n, nil) }

func (p *Proxy) setMatch(m Mode, n int, match func(*http.Request, []byte) bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.mode, p.left, p.match = m, n, match
	close(p.changed)
	p.changed = make(chan struct{})
	var cut []*conn
	for c := range p.conns {
		c.stale = true
		cut = append(cut, c)
		if !c.busy {
			// An idle pooled connection: send a FIN; the client drops the
			// connection from its pool and closes it, which ends the
			// handler's wait for another request.
			_ = c.nc.CloseWrite()
		}
	}
	switch {
	case m == Refuse && p.ln != nil:
		_ = p.ln.Close()
		p.ln = nil
	case m != Refuse && p.ln == nil:
		ln, err := listenAgain(p.addr)
		if err != nil {
			p.tb.Errorf("faultproxy: listen again on %s: %v", p.addr, err)
			break
		}
		p.ln = ln
		p.wg.Add(1)
		go p.serve(ln)
	}
	p.mu.Unlock()

	// Wait until the clients have let go of the cut connections, so that
	// their next request surely opens a fresh one.
	timeout := time.NewTimer(cutTimeout)
	defer timeout.Stop()
	for _, c := range cut {
		select {
		case <-c.done:
		case <-timeout.C:
			p.mu.Lock()
			for _, c := range cut {
				_ = c.nc.Close()
			}
			p.mu.Unlock()
			return
		}
	}
}

// cutTimeout bounds how long Set waits for clients to close cut
// connections (and for requests in progress to finish) before closing them.
const cutTimeout = 5 * time.Second

// listenAgain listens on addr after Refuse closed it. The port is free
// unless another process took it in between, which a few retries ride out
// only if it lets go.
func listenAgain(addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, err
}

// Close stops the proxy: it closes the listener and every connection,
// releases hanging requests and waits for its goroutines to end.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.nc.Close()
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.transport.CloseIdleConnections()
}

func (p *Proxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return // closed by Refuse or Close
		}
		c := &conn{nc: nc.(*net.TCPConn), done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = nc.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(c)
	}
}

// handle serves the requests of one client connection.
func (p *Proxy) handle(c *conn) {
	defer p.wg.Done()
	defer close(c.done)
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		_ = c.nc.Close()
	}()
	br := bufio.NewReader(c.nc)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return // the client closed the connection, or Set or Close cut it
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		p.mu.Lock()
		if c.stale || p.closed {
			// Sent on a connection that a mode switch was cutting: drop it
			// unforwarded rather than apply it behind the switch's back.
			p.mu.Unlock()
			return
		}
		m, changed, delay := p.mode, p.changed, p.delay
		switch {
		case p.left > 0 && p.match != nil && !p.match(req, body):
			m = Pass
		case p.left > 0:
			if p.left--; p.left == 0 {
				p.mode, p.match = Pass, nil
			}
		}
		c.busy = true
		p.mu.Unlock()
		p.requests.Add(1)

		keep := p.serveRequest(c, req, body, m, changed, delay)

		p.mu.Lock()
		c.busy = false
		stale := c.stale || p.closed
		p.mu.Unlock()
		if !keep {
			return
		}
		if stale || req.Close {
			retire(c.nc, br)
			return
		}
	}
}

// retire closes a connection that has just been answered without racing
// the client: it sends a FIN, waits (briefly) for the client to close its
// end, then closes. A plain Close could reach a client that is already
// reusing the connection for its next request.
func retire(nc *net.TCPConn, br *bufio.Reader) {
	_ = nc.CloseWrite()
	_ = nc.SetReadDeadline(time.Now().Add(cutTimeout))
	_, _ = io.Copy(io.Discard, br)
}

// serveRequest applies mode m to one request and reports whether the
// connection may serve another.
func (p *Proxy) serveRequest(c *conn, req *http.Request, body []byte, m Mode, changed <-chan struct{}, delay time.Duration) bool {
	switch m {
	case Pass:
	case Delay:
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.ctx.Done():
			return false
		}
	case Refuse, Reset: // Refuse: a request on a connection accepted just before the switch
		reset(c.nc)
		return false
	case Hang:
		select {
		case <-changed:
		case <-p.ctx.Done():
		}
		return false
	case Status500:
		return writeError(c.nc, http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error (injected by faultproxy)")
	case Throttle:
		return writeError(c.nc, http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
			"The level of configured provisioned throughput for the table was exceeded (injected by faultproxy)")
	case Throttling:
		return writeError(c.nc, http.StatusBadRequest, "com.amazon.coral.availability#ThrottlingException", "Rate exceeded (injected by faultproxy)")
	case ForwardThenReset, ForwardThen500:
		if _, err := p.forward(req, body); err != nil {
			if p.ctx.Err() == nil {
				p.tb.Errorf("faultproxy: forward %s: %v", req.Header.Get("X-Amz-Target"), err)
			}
			reset(c.nc)
			return false
		}
		if m == ForwardThenReset {
			reset(c.nc)
			return false
		}
		return writeError(c.nc, http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error (injected by faultproxy after forwarding)")
	default:
		panic("faultproxy: unknown mode " + m.String())
	}
	resp, err := p.forward(req, body)
	if err != nil {
		if p.ctx.Err() == nil {
			p.tb.Errorf("faultproxy: forward %s: %v", req.Header.Get("X-Amz-Target"), err)
		}
		reset(c.nc)
		return false
	}
	return writeResponse(c.nc, resp.status, resp.header, resp.body)
}

// hopHeaders are connection-level headers a proxy does not pass on.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// answer is a server's answer, read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// forward sends the request upstream and returns the answer: once forward
// returns without error the server has applied the request.
func (p *Proxy) forward(req *http.Request, body []byte) (answer, error) {
	out, err := http.NewRequestWithContext(p.ctx, req.Method, p.upstream+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	out.Header = req.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	p.forwarded.Add(1)
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	return answer{resp.StatusCode, resp.Header, b}, nil
}

// reset closes nc with an RST instead of a FIN.
func reset(nc *net.TCPConn) {
	_ = nc.SetLinger(0)
	_ = nc.Close()
}

var requestSeq atomic.Int64

// writeError writes a DynamoDB-style JSON error answer.
func writeError(nc net.Conn, status int, typ, msg string) bool {
	body, err := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{typ, msg})
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", fmt.Sprintf("FAULTPROXY%08d", requestSeq.Add(1)))
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	return writeResponse(nc, status, h, body)
}

// writeResponse writes an HTTP/1.1 answer with a Content-Length and reports
// whether it was written in full.
func writeResponse(nc net.Conn, status int, h http.Header, body []byte) bool {
	resp := &http.Response{
		StatusCode:    status,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	bw := bufio.NewWriter(nc)
	return resp.Write(bw) == nil && bw.Flush() == nil
}
