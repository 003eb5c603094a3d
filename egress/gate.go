package egress

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// gate is one VM's egress: its listener, the HTTP proxy server on it, the guest connections it
// accepted and the session bound to it, if any.
type gate struct {
	p    *Proxy
	vmID string
	ln   net.Listener
	srv  *http.Server

	sess atomic.Pointer[Session] // nil: no session; every request is refused

	seq atomic.Int64 // numbers accepted connections, from 1

	mu     sync.Mutex
	conns  map[*guestConn]struct{}
	closed bool
}

func newGate(p *Proxy, vmID string, ln net.Listener) *gate {
	g := &gate{p: p, vmID: vmID, ln: ln, conns: map[*guestConn]struct{}{}}
	g.srv = &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0), // a guest's malformed requests are its own business
	}
	return g
}

func (g *gate) serve() {
	err := g.srv.Serve(gateListener{g.ln, g})
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		g.p.log.Warn("egress listener stopped", "vm", g.vmID, "err", err)
	}
}

// close ends the session, the server, and every guest connection (hijacked tunnels included).
func (g *gate) close() {
	if s := g.sess.Load(); s != nil {
		s.Close()
	}
	// The listener is closed here as well as by the server: Serve runs on its own goroutine and may
	// not have taken the listener yet, and no guest may connect once CloseVM returns.
	_ = g.ln.Close()
	_ = g.srv.Close()
	g.mu.Lock()
	g.closed = true
	conns := g.conns
	g.conns = map[*guestConn]struct{}{}
	g.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
}

// bind makes pol the gate's session.
func (g *gate) bind(pol Policy) (*Session, error) {
	s := newSession(g, pol)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, fmt.Errorf("%w: VM %s", ErrNoVM, g.vmID)
	}
	if !g.sess.CompareAndSwap(nil, s) {
		return nil, fmt.Errorf("%w: VM %s", ErrBound, g.vmID)
	}
	s.start()
	return s, nil
}

// unbind clears s as the gate's session and closes the guest's connections.
func (g *gate) unbind(s *Session) {
	g.sess.CompareAndSwap(s, nil)
	g.dropConns(g.seq.Load())
}

// dropConns closes the guest connections accepted up to number upTo: a request in flight
// belonged to the session that just ended, and a connection kept alive must not carry anything
// into the next one. Later connections are left alone: they came after the end and will be
// answered with its reason.
func (g *gate) dropConns(upTo int64) {
	var drop []*guestConn
	g.mu.Lock()
	for c := range g.conns {
		if c.seq <= upTo {
			drop = append(drop, c)
			delete(g.conns, c)
		}
	}
	g.mu.Unlock()
	for _, c := range drop {
		_ = c.Conn.Close()
	}
}

// gateListener wraps each accepted connection so that its bytes count against the session and
// the gate can close it.
type gateListener struct {
	net.Listener
	g *gate
}

func (l gateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &guestConn{Conn: c, g: l.g, seq: l.g.seq.Add(1)}
	l.g.mu.Lock()
	closed := l.g.closed
	if !closed {
		l.g.conns[gc] = struct{}{}
	}
	l.g.mu.Unlock()
	if closed {
		_ = c.Close()
	}
	return gc, nil
}

// guestConn is one connection from the guest. Reads are bytes up (guest to world), writes bytes
// down, both charged to the session bound at the time.
type guestConn struct {
	net.Conn
	g   *gate
	seq int64
}

func (c *guestConn) Read(b []byte) (int, error) {
	if c.overLimit() {
		return 0, errByteLimit
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.charge(int64(n), true)
	}
	return n, err
}

func (c *guestConn) Write(b []byte) (int, error) {
	if c.overLimit() {
		return 0, errByteLimit
	}
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.charge(int64(n), false)
	}
	return n, err
}

// errByteLimit stops a connection's copying once its session is over its byte limit; the
// limit's own goroutine then closes every connection.
var errByteLimit = errors.New("egress: session byte limit reached")

// overLimit reports whether the connection was open when its session went over the byte limit.
// Connections accepted later may still carry the refusal that says so.
func (c *guestConn) overLimit() bool {
	s := c.g.sess.Load()
	if s == nil {
		return false
	}
	at := s.overAt.Load()
	return at != 0 && c.seq <= at
}

func (c *guestConn) charge(n int64, up bool) {
	c.g.p.metrics.addBytes(n, up)
	if s := c.g.sess.Load(); s != nil {
		s.charge(n, up)
	}
}

func (c *guestConn) Close() error {
	c.g.mu.Lock()
	delete(c.g.conns, c)
	c.g.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite half-closes towards the guest when the transport can (TCP and unix sockets).
func (c *guestConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
