package main

import (
	"fmt"
	"net"
	"time"
)

// timedConn is the viewer's connection with the times its received bytes passed two marks, to split
// "handshake and frame" into the wait before the first pixels and their transfer.
type timedConn struct {
	net.Conn
	began time.Time
	n     int
	first time.Duration // the first byte (x11vnc's version string)
	pix   time.Duration // handshakeBytes: past the handshake and the update's header
	last  time.Duration // the last byte read
}

// handshakeBytes is past the RFB handshake (version, security, ServerInit with x11vnc's desktop
// name) and the FramebufferUpdate header, into the first pixels.
const handshakeBytes = 256

func (c *timedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	at := time.Since(c.began)
	if c.n == 0 && n > 0 {
		c.first = at
	}
	if c.n < handshakeBytes && c.n+n >= handshakeBytes {
		c.pix = at
	}
	if n > 0 {
		c.last = at
	}
	c.n += n
	return n, err
}

// String is the marks as the bench prints them.
func (c *timedConn) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("first byte %v, first pixels %v, last byte %v (%.1f MiB)", r(c.first), r(c.pix), r(c.last), float64(c.n)/(1<<20))
}
