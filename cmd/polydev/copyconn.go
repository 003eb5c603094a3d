package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
)

// copyConnBuf is the size of the buffers copyConn copies request bodies through: a typical agent
// prompt (Claude Code's is about 126 KB) goes out in one or two writes.
const copyConnBuf = 128 << 10

var copyConnBufs = sync.Pool{New: func() any { b := make([]byte, copyConnBuf); return &b }}

// copyConn is an upstream connection whose ReadFrom writes a passthrough body's parts as they are
// (one writev(2)) and copies any other body through a pooled buffer. net/http's transport writes
// a request body of known length by handing a LimitedReader to the connection's ReadFrom; a TCP
// connection's own (no splice or sendfile applies to a body in memory) then allocates a new
// 32 KiB buffer for every request, the largest allocation on the passthrough path, and writes in
// 32 KiB pieces. Only plain-HTTP upstreams (OpenAI-compatible servers on a local network, the
// load bench) get here: over TLS the transport writes through the TLS connection instead.
type copyConn struct{ net.Conn }

func (c copyConn) ReadFrom(r io.Reader) (int64, error) {
	// A body made of parts in memory (the passthrough's prefix, model and suffix) goes out as they
	// are, in one writev(2) on a TCP connection, when the transport's limit cuts nothing off it.
	if lr, ok := r.(*io.LimitedReader); ok {
		if pr, ok := lr.R.(partsBody); ok && pr.Remaining() <= lr.N {
			n, err := pr.WriteBuffersTo(c.Conn)
			lr.N -= n
			return n, err
		}
	}
	bp := copyConnBufs.Get().(*[]byte)
	defer copyConnBufs.Put(bp)
	return io.CopyBuffer(writerOnly{c.Conn}, r, *bp)
}

// partsBody is a request body that can write its parts without a copy
// (gateway/provider/internal/upstream's parts body).
type partsBody interface {
	Remaining() int64
	WriteBuffersTo(w io.Writer) (int64, error)
}

// writerOnly hides the connection's own ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }

// withCopyConn makes c's transport wrap the connections its dialer (the guard's) returns in
// copyConn; TLS, when used, goes on top and writes through the connection's Write as before.
func withCopyConn(c *http.Client) *http.Client {
	if t, ok := c.Transport.(*http.Transport); ok && t.DialContext != nil {
		t.DialContext = copyConnDial(t.DialContext)
	}
	return c
}

func copyConnDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return copyConn{c}, nil
	}
}
