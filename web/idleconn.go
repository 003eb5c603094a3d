package web

import (
	"net"
	"sync"
	"time"
)

// defaultViewerIdle is how long a viewer WebSocket may carry nothing before it is closed.
const defaultViewerIdle = 15 * time.Minute

// idleConn is the proxy's connection to a guest's websockify that closes itself once no byte went
// either way for idle: a viewer left in a forgotten tab does not keep a VM's display (and, for a
// login session, its sign-in page) open to whoever finds the tab. Closing it ends the WebSocket.
// RFB is quiet when the screen is still and nobody types, so a quiet connection is an idle viewer.
type idleConn struct {
	net.Conn
	idle time.Duration

	mu    sync.Mutex
	last  time.Time
	timer *time.Timer
}

func newIdleConn(c net.Conn, idle time.Duration) *idleConn {
	ic := &idleConn{Conn: c, idle: idle, last: time.Now()}
	ic.mu.Lock()
	ic.timer = time.AfterFunc(idle, ic.check)
	ic.mu.Unlock()
	return ic
}

func (c *idleConn) touch() {
	c.mu.Lock()
	c.last = time.Now()
	c.mu.Unlock()
}

// check closes the connection when it has been quiet for idle, else looks again when it would be.
func (c *idleConn) check() {
	c.mu.Lock()
	defer c.mu.Unlock()
	quiet := time.Since(c.last)
	if quiet >= c.idle {
		_ = c.Conn.Close()
		return
	}
	c.timer.Reset(c.idle - quiet)
}

func (c *idleConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.touch()
	}
	return n, err
}

func (c *idleConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.touch()
	}
	return n, err
}

func (c *idleConn) Close() error {
	c.mu.Lock()
	c.timer.Stop()
	c.mu.Unlock()
	return c.Conn.Close()
}
