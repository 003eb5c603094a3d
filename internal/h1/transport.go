// Package h1 is an HTTP/1.1 client transport (an http.RoundTripper) that runs each exchange in the
// calling goroutine: the request is written and the response read by the caller itself, over a pool
// of kept-alive connections. net/http's Transport hands every exchange to two goroutines per
// connection (one writes, one reads) and back; on a busy gateway those hand-offs cost more CPU and
// latency than the bytes (see docs/PERFORMANCE.md). The gateway's upstream calls go through it.
//
// What it does not do, on purpose: HTTP/2 (providers all speak HTTP/1.1, as their own SDKs mostly
// do), proxies (netguard forbids them), compression (nothing asks for it), redirects (http.Client's
// CheckRedirect decides; the gateway refuses them), 1xx other than skipping them. Connections come
// from Dial, so netguard's checks apply to every one of them.
//
// It must not know anything of providers or the gateway.
package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Transport is the RoundTripper. Its zero value is not usable: Dial is required.
type Transport struct {
	// Dial opens a TCP connection (netguard.Policy.DialContext in the gateway).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// TLSConfig is the base TLS configuration for https (nil: the system's roots); ServerName and
	// NextProtos are set per connection.
	TLSConfig *tls.Config
	// MaxIdlePerHost bounds the kept-alive connections per scheme and host; default 256.
	MaxIdlePerHost int
	// IdleTimeout closes a connection idle this long; default 90s.
	IdleTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response headers after the request is written;
	// 0 = none.
	ResponseHeaderTimeout time.Duration
	// MaxResponseHeaderBytes bounds the response's status line and headers; default 1 MiB.
	MaxResponseHeaderBytes int64

	mu       sync.Mutex
	idle     map[string][]*conn // by scheme://host:port, most recently used last
	sweeping bool
	sessions tls.ClientSessionCache
}

var _ http.RoundTripper = (*Transport)(nil)

const (
	defaultMaxIdle     = 256
	defaultIdleTimeout = 90 * time.Second
	defaultHeaderLimit = 1 << 20
)

// conn is one kept-alive connection.
type conn struct {
	raw     net.Conn // the TCP connection (under TLS, when https)
	nc      net.Conn // what requests are written to: raw or its TLS client
	br      *bufio.Reader
	bw      *bufio.Writer
	limit   int64 // bytes nc may still deliver before the response headers are complete
	idleAt  time.Time
	cancelM sync.Mutex
	cancel  bool // the request's context ended: deadlines stay in the past
}

// Read implements io.Reader for br, enforcing limit.
func (c *conn) Read(p []byte) (int, error) {
	if c.limit <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.nc.Read(p)
	c.limit -= int64(n)
	return n, err
}

var errHeaderTooLarge = errors.New("h1: the upstream's response headers are too large")

// aLongTimeAgo is a deadline in the past: I/O blocked on the connection returns at once.
var aLongTimeAgo = time.Unix(1, 0)

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if req.URL == nil || req.URL.Host == "" || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		closeBody()
		return nil, errors.New("h1: only http and https URLs with a host are supported")
	}
	if t.Dial == nil {
		closeBody()
		return nil, errors.New("h1: Transport.Dial is not set")
	}
	ctx := req.Context()
	key := poolKey(req)
	c, err := t.get(ctx, key, req.URL.Scheme)
	if err != nil {
		closeBody()
		return nil, err
	}
	return t.exchange(ctx, key, c, req)
}

// poolKey is scheme://host:port.
func poolKey(req *http.Request) string {
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	return req.URL.Scheme + "://" + net.JoinHostPort(host, port)
}

// exchange writes req on c and reads the response headers; the body is read by the caller.
func (t *Transport) exchange(ctx context.Context, key string, c *conn, req *http.Request) (*http.Response, error) {
	c.cancel = false
	stop := context.AfterFunc(ctx, func() {
		c.cancelM.Lock()
		c.cancel = true
		c.cancelM.Unlock()
		_ = c.nc.SetDeadline(aLongTimeAgo)
	})
	fail := func(err error) (*http.Response, error) {
		stop()
		if req.Body != nil {
			req.Body.Close()
		}
		c.raw.Close()
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// Request.Write sends the request line, Host, User-Agent, the caller's headers, the framing
	// (Content-Length, or chunked for a body of unknown length) and the body, and closes the body.
	werr := req.Write(c.bw)
	if werr == nil {
		werr = c.bw.Flush()
	}
	if werr != nil {
		// A server may answer before it has read the whole request (a 401 or 413 for a large
		// body) and close: its answer, if it reached us, says more than our broken write.
		if ctx.Err() != nil {
			return fail(werr)
		}
		c.setReadDeadline(time.Now().Add(earlyAnswerWait))
		c.limit = defaultHeaderLimit
		if res, err := http.ReadResponse(c.br, req); err == nil && res.StatusCode >= 200 {
			if req.Body != nil {
				req.Body.Close()
			}
			res.Close = true
			return t.respond(ctx, key, c, req, res, stop), nil
		}
		return fail(werr)
	}
	if t.ResponseHeaderTimeout > 0 {
		c.setReadDeadline(time.Now().Add(t.ResponseHeaderTimeout))
	}
	c.limit = t.MaxResponseHeaderBytes
	if c.limit <= 0 {
		c.limit = defaultHeaderLimit
	}
	var res *http.Response
	for {
		r, err := http.ReadResponse(c.br, req)
		if err != nil {
			return fail(err)
		}
		if r.StatusCode >= 100 && r.StatusCode < 200 {
			if r.StatusCode == http.StatusSwitchingProtocols {
				return fail(errors.New("h1: the upstream switched protocols"))
			}
			continue // 100 Continue, 103 Early Hints: the real answer follows
		}
		res = r
		break
	}
	if t.ResponseHeaderTimeout > 0 {
		c.setReadDeadline(time.Time{})
	}
	return t.respond(ctx, key, c, req, res, stop), nil
}

// earlyAnswerWait bounds the look for an answer after a failed write.
const earlyAnswerWait = 2 * time.Second

// respond gives res a body that ends the exchange: back to the pool or closed.
func (t *Transport) respond(ctx context.Context, key string, c *conn, req *http.Request, res *http.Response, stop func() bool) *http.Response {
	c.limit = 1 << 62
	// The connection can carry another exchange once this body is read to its end, if both sides
	// keep it alive and the body's end is framed (not "read until the server closes").
	reusable := !res.Close && !req.Close && res.ProtoAtLeast(1, 1) &&
		(res.ContentLength >= 0 || len(res.TransferEncoding) > 0 && res.TransferEncoding[0] == "chunked")
	// The body is decoded here rather than by ReadResponse's reader (which has read nothing of it
	// yet), so that the body can say whether a read would wait (Ready).
	var src bodyReader
	switch {
	case res.Body == http.NoBody:
		src = &lengthReader{}
	case len(res.TransferEncoding) > 0 && res.TransferEncoding[0] == "chunked":
		src = &chunkedReader{br: c.br}
	case res.ContentLength >= 0:
		src = &lengthReader{br: c.br, n: res.ContentLength}
	default:
		src = closeReader{c.br}
	}
	b := &body{t: t, key: key, c: c, src: src, stop: stop, ctx: ctx, reusable: reusable}
	if res.Body == http.NoBody || res.ContentLength == 0 {
		b.finish(nil)
	}
	res.Body = b
	return res
}

// setReadDeadline sets a read deadline unless the request's context has ended (whose past
// deadline must stay).
func (c *conn) setReadDeadline(d time.Time) {
	c.cancelM.Lock()
	defer c.cancelM.Unlock()
	if !c.cancel {
		_ = c.nc.SetReadDeadline(d)
	}
}

// body is a response body whose end returns the connection to the pool.
type body struct {
	t        *Transport
	key      string
	c        *conn
	src      bodyReader
	stop     func() bool
	ctx      context.Context
	reusable bool
	done     atomic.Bool
	errMu    sync.Mutex
	err      error // what Read returns once done (nil: io.EOF)
}

func (b *body) Read(p []byte) (int, error) {
	if b.done.Load() {
		return 0, b.endErr()
	}
	n, err := b.src.Read(p)
	switch {
	case err == io.EOF:
		b.finish(nil)
	case err != nil:
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.finish(err)
		err = b.endErr() // Close may have ended it first
	}
	return n, err
}

func (b *body) endErr() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if b.err != nil {
		return b.err
	}
	return io.EOF
}

// Ready reports whether the next Read returns without waiting for the network: data, the end or an
// error is in the buffer already. upstream's stream relay asks it before deciding to flush.
func (b *body) Ready() bool { return b.done.Load() || b.src.Ready() }

// Close ends the exchange; a body not read to its end takes its connection with it.
func (b *body) Close() error {
	b.finish(http.ErrBodyReadAfterClose)
	return nil
}

// finish ends the exchange once, err nil meaning at the body's end: the connection goes back to the
// pool when the body was read to its end on a reusable connection whose context did not end
// meanwhile, else it is closed.
func (b *body) finish(err error) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	b.errMu.Lock()
	b.err = err
	b.errMu.Unlock()
	stopped := b.stop() // false: the context's function ran (or runs): the deadline is spoiled
	if err == nil && b.reusable && stopped {
		b.t.put(b.key, b.c)
		return
	}
	b.c.raw.Close()
	b.c.nc.Close()
}

// get returns an idle connection to key that is still open, or dials one.
func (t *Transport) get(ctx context.Context, key, scheme string) (*conn, error) {
	timeout := cmpOr(t.IdleTimeout, defaultIdleTimeout)
	for {
		t.mu.Lock()
		list := t.idle[key]
		if len(list) == 0 {
			t.mu.Unlock()
			break
		}
		c := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[key] = list[:len(list)-1]
		t.mu.Unlock()
		if time.Since(c.idleAt) < timeout && c.alive() {
			return c, nil
		}
		c.raw.Close()
		c.nc.Close()
	}
	return t.dial(ctx, key, scheme)
}

func (t *Transport) dial(ctx context.Context, key, scheme string) (*conn, error) {
	addr := key[len(scheme)+3:]
	raw, err := t.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{raw: raw, nc: raw}
	if scheme == "https" {
		host, _, _ := net.SplitHostPort(addr)
		cfg := &tls.Config{}
		if t.TLSConfig != nil {
			cfg = t.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		if cfg.ClientSessionCache == nil {
			cfg.ClientSessionCache = t.sessionCache()
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("h1: TLS handshake with %s: %w", addr, err)
		}
		c.nc = tc
	}
	c.br = bufio.NewReaderSize(c, 16<<10)
	c.bw = bufio.NewWriterSize(c.nc, 8<<10)
	return c, nil
}

func (t *Transport) sessionCache() tls.ClientSessionCache {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessions == nil {
		t.sessions = tls.NewLRUClientSessionCache(256)
	}
	return t.sessions
}

// alive reports whether an idle connection is still open: the server may have closed it (its own
// idle timeout) while it sat in the pool, which net/http's Transport notices with a goroutine
// reading every idle connection. Here one non-blocking peek at the socket tells: nothing to read
// means open; end of file, an error or unexpected bytes (the server says something unasked, such
// as a TLS close_notify) mean the connection is done.
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, still open. No error: a byte or the end of the stream.
		open = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait for readiness
	})
	return err == nil && open
}

// put returns c to the pool (or closes it when the pool for key is full).
func (t *Transport) put(key string, c *conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*conn{}
	}
	if len(t.idle[key]) >= cmpOr(t.MaxIdlePerHost, defaultMaxIdle) {
		t.mu.Unlock()
		c.raw.Close()
		c.nc.Close()
		return
	}
	t.idle[key] = append(t.idle[key], c)
	sweep := !t.sweeping
	t.sweeping = true
	t.mu.Unlock()
	if sweep {
		time.AfterFunc(cmpOr(t.IdleTimeout, defaultIdleTimeout), t.sweep)
	}
}

// sweep closes connections idle past the timeout, and runs again while any are left.
func (t *Transport) sweep() {
	timeout := cmpOr(t.IdleTimeout, defaultIdleTimeout)
	var expired []*conn
	t.mu.Lock()
	for key, list := range t.idle {
		n := 0
		for _, c := range list { // oldest first
			if time.Since(c.idleAt) >= timeout {
				expired = append(expired, c)
				n++
				continue
			}
			break
		}
		if n == len(list) {
			delete(t.idle, key)
		} else if n > 0 {
			t.idle[key] = append(list[:0], list[n:]...)
		}
	}
	again := len(t.idle) > 0
	t.sweeping = again
	t.mu.Unlock()
	for _, c := range expired {
		c.raw.Close()
		c.nc.Close()
	}
	if again {
		time.AfterFunc(timeout/2, t.sweep)
	}
}

// CloseIdleConnections closes every pooled connection (http.Client calls it through its own method).
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.raw.Close()
			c.nc.Close()
		}
	}
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
