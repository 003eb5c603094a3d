package upstream

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Ref is a reference count on the buffer a request body reads (provider.BodyRef): a body holds
// one from when it is made until it is closed.
type Ref interface {
	Hold()
	Release()
}

// errBodyClosed is what a closed parts body answers to a read: its buffer may be reused by then.
var errBodyClosed = errors.New("upstream: read of a closed request body")

// partsReader reads parts one after the other. It implements io.WriterTo so that a writer that
// asks for it gets each slice straight instead of through an intermediate buffer.
//
// With a ref, the parts are another request's pooled buffer: Close releases the reference once,
// and mu keeps Close from returning while a read or write is copying from them (an HTTP/2
// transport closes the body from another goroutine), so no byte is read after the release.
type partsReader struct {
	mu     sync.Mutex
	parts  [][]byte
	ref    Ref
	closed bool
}

func (p *partsReader) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errBodyClosed
	}
	n := 0
	for n < len(b) && len(p.parts) > 0 { // across parts: the copy is written as one piece
		k := copy(b[n:], p.parts[0])
		n += k
		if p.parts[0] = p.parts[0][k:]; len(p.parts[0]) == 0 {
			p.parts = p.parts[1:]
		}
	}
	if n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (p *partsReader) WriteTo(w io.Writer) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errBodyClosed
	}
	var total int64
	for len(p.parts) > 0 {
		n, err := w.Write(p.parts[0])
		total += int64(n)
		p.parts[0] = p.parts[0][n:]
		if err != nil {
			return total, err
		}
		if len(p.parts[0]) > 0 {
			return total, io.ErrShortWrite
		}
		p.parts = p.parts[1:]
	}
	return total, nil
}

// Remaining is how many bytes the body has left to give.
func (p *partsReader) Remaining() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, b := range p.parts {
		n += int64(len(b))
	}
	return n
}

// WriteBuffersTo writes what is left of the body to w as net.Buffers: on a TCP connection one
// writev(2) of the parts as they are, with no copy into an intermediate buffer (a 126 KB agent
// prompt otherwise crosses memory once more on its way out). The connection wrapper on the
// upstream clients' dialer calls it when net/http's transport hands it the body (see
// cmd/polydev/copyconn.go).
func (p *partsReader) WriteBuffersTo(w io.Writer) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errBodyClosed
	}
	bufs := net.Buffers(p.parts)
	n, err := bufs.WriteTo(w)
	p.parts = bufs
	return n, err
}

// Close releases the body's reference, once; later reads fail.
func (p *partsReader) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.parts = nil
	if p.ref != nil {
		p.ref.Release()
	}
	return nil
}
