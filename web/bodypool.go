package web

import (
	"sync"
	"sync/atomic"
)

// pooledBody is a gateway request body read into a reused buffer. A 126 KB agent prompt in a
// fresh buffer per request costs its allocation, its zeroing and the collector's and
// scavenger's work to take it back, about a tenth of a passthrough request's CPU; bodyPool
// spares them.
//
// The buffer goes back to the pool only when nothing can read it any more, which a reference
// count says: the handler holds one from the start (Release when it is done with b), and each
// upstream request body that sends b holds one until the transport closes it (provider.RawRequest's
// BodyRef: an HTTP transport may still be writing the body after the response arrived, and
// closes it when it is done). A reference never released (a request built and never sent, a
// path that keeps b) only means the buffer is left to the collector.
type pooledBody struct {
	b    []byte
	refs atomic.Int32
}

// maxPooledBody bounds the buffers kept: a rare multi-megabyte body is not held on to.
const maxPooledBody = 4 << 20

var bodyPool sync.Pool // of *pooledBody

// newPooledBody returns a body from the pool (or a new one) with its one reference, the caller's.
func newPooledBody() *pooledBody {
	p, _ := bodyPool.Get().(*pooledBody)
	if p == nil {
		p = &pooledBody{}
	}
	p.refs.Store(1)
	return p
}

// Hold adds a reference: b stays valid until the matching Release.
func (p *pooledBody) Hold() { p.refs.Add(1) }

// Release drops a reference; the last one returns the buffer to the pool, after which b must
// not be touched.
func (p *pooledBody) Release() {
	if p.refs.Add(-1) != 0 {
		return
	}
	if cap(p.b) > maxPooledBody {
		return
	}
	p.b = p.b[:0]
	bodyPool.Put(p)
}
