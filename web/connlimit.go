package web

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connLimit caps the connections the server holds open, so a flood of slow connections cannot take
// every file descriptor (accept would then fail for everyone, health checks included). At the cap a
// new connection displaces the oldest one that is not being served: idle between requests, still
// sending its request headers, or still sending its body. Those are exactly what a slow-connection
// attack holds, and a client that is merely slow can retry; a request being served is never
// displaced. When every connection is being served the new one is closed at once instead of
// waiting in the kernel's queue.
//
// It wraps the listener (Accept) and watches net/http's connection states (ConnState: idle
// between requests, hijacked); the middleware marks the time a handler runs (serving), and
// handlers the time they spend reading a body (bodyPhase). net/http's own StateActive cannot be
// used: it begins with the first byte of the request line, so a header sent a byte at a time
// would count as served.
type connLimit struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[*limitedConn]struct{}

	displaced, refused atomic.Int64 // counters for metrics and tests
}

func newConnLimit(ln net.Listener, max int) *connLimit {
	return &connLimit{Listener: ln, max: max, conns: map[*limitedConn]struct{}{}}
}

// limitedConn is one accepted connection and what it is doing.
type limitedConn struct {
	net.Conn
	l         *connLimit
	waiting   atomic.Bool  // not being served: new, idle, or reading a body
	since     atomic.Int64 // unix nanoseconds when it started waiting
	hijacked  atomic.Bool  // handed to its handler for good (WebSockets): never displaced
	closeOnce sync.Once
}

func (c *limitedConn) wait(on bool) {
	if c.hijacked.Load() {
		return
	}
	if on {
		c.since.Store(time.Now().UnixNano())
	}
	c.waiting.Store(on)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return err
}

// Accept returns the next connection within the cap.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &limitedConn{Conn: nc, l: l}
		c.wait(true)
		victim, ok := l.admit(c)
		if victim != nil {
			l.displaced.Add(1)
			_ = victim.Close()
		}
		if ok {
			return c, nil
		}
		l.refused.Add(1)
		_ = nc.Close()
	}
}

// admit adds c, choosing the connection it displaces when the cap is reached; ok is false when
// there is none to displace.
func (l *connLimit) admit(c *limitedConn) (victim *limitedConn, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		var oldest int64
		for o := range l.conns {
			if s := o.since.Load(); o.waiting.Load() && (victim == nil || s < oldest) {
				victim, oldest = o, s
			}
		}
		if victim == nil {
			return nil, false
		}
		delete(l.conns, victim) // counted out now: its Close may come after the next Accept
	}
	l.conns[c] = struct{}{}
	return victim, true
}

// open is the number of connections held.
func (l *connLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// connState is http.Server.ConnState.
func (l *connLimit) connState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*limitedConn)
	if !ok {
		return
	}
	switch st {
	case http.StateHijacked:
		c.wait(false)
		c.hijacked.Store(true)
	case http.StateIdle:
		c.wait(true)
	case http.StateClosed:
		_ = c.Close()
	}
}

type connKey struct{}

// connContext is http.Server.ConnContext: requests can find their connection (bodyPhase).
func (l *connLimit) connContext(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*limitedConn); ok {
		return context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

// serving marks the request's connection as being served (the middleware, as a handler starts).
// It waits again once net/http reports it idle, after the answer's last byte went out.
func serving(ctx context.Context) {
	if c, ok := ctx.Value(connKey{}).(*limitedConn); ok {
		c.wait(false)
	}
}

// bodyPhase marks the request's connection as waiting for its body until the returned function is
// called: a body that trickles in may be displaced like a slow header.
func bodyPhase(ctx context.Context) func() {
	c, ok := ctx.Value(connKey{}).(*limitedConn)
	if !ok {
		return func() {}
	}
	c.wait(true)
	return func() { c.wait(false) }
}
