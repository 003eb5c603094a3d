package web

import (
	"sync"

	"github.com/polydev/polydev"
)

// inflight bounds what gateway requests hold while they run: per account, the number of requests
// and the bytes of their request bodies; across the server, the bytes of all bodies. A body's bytes
// are taken before they are read (its Content-Length, or step by step when the length is unknown)
// and given back when the handler returns: the body is referenced until then (failover sends it
// again), so it is the memory the request holds.
//
// Invariants a reviewer checks: every taken byte is given back exactly once (ticket.done), and a
// refusal takes nothing.
type inflight struct {
	maxUserRequests int
	maxUserBytes    int64
	maxBytes        int64

	mu    sync.Mutex
	total int64
	users map[string]*userLoad
}

type userLoad struct {
	requests int
	bytes    int64
}

func newInflight(userRequests int, userBytes, total int64) *inflight {
	return &inflight{maxUserRequests: userRequests, maxUserBytes: userBytes, maxBytes: total, users: map[string]*userLoad{}}
}

// ticket is one admitted request's share: a request slot and the body bytes it holds.
type ticket struct {
	f        *inflight
	user     string
	bytes    int64
	released bool
}

// inflightRefusal is the answer to a request beyond a bound: a 429 whose Retry-After is a second,
// since room frees as soon as a request in flight ends.
func inflightRefusal(limit, scope string) error {
	le := &polydev.LimitError{Limit: limit, Scope: scope, RetryAfter: polydev.ConcurrencyRetryAfter}
	return &polydev.Error{Code: le.Code(), Message: le.Error(), Cause: le}
}

// enter takes a request slot for the user.
func (f *inflight) enter(userID string) (*ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.users[userID]
	if l == nil {
		l = &userLoad{}
		f.users[userID] = l
	}
	if l.requests >= f.maxUserRequests {
		return nil, inflightRefusal("requests_in_flight", "your account")
	}
	l.requests++
	return &ticket{f: f, user: userID}, nil
}

// take adds n body bytes to the ticket, all or nothing: refused when the account or the server
// would hold more than its bound. A retry helps once other requests end, so the refusal is a 429
// with a short Retry-After; a body that could never fit is the caller's 413 (fits).
func (t *ticket) take(n int64) error {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.users[t.user]
	switch {
	case l.bytes+n > f.maxUserBytes:
		return inflightRefusal("body_bytes_in_flight", "your account")
	case f.total+n > f.maxBytes:
		return inflightRefusal("body_bytes_in_flight", "this server")
	}
	l.bytes += n
	f.total += n
	t.bytes += n
	return nil
}

// fits reports whether a body of n bytes could ever be admitted alone.
func (f *inflight) fits(n int64) bool { return n <= f.maxUserBytes && n <= f.maxBytes }

// done gives back the ticket's slot and bytes; calling it again does nothing.
func (t *ticket) done() {
	if t == nil || t.released {
		return
	}
	t.released = true
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.users[t.user]
	l.requests--
	l.bytes -= t.bytes
	f.total -= t.bytes
	if l.requests == 0 {
		delete(f.users, t.user) // the map holds only accounts with requests in flight
	}
}

// load is what the server holds in flight (tests and metrics).
func (f *inflight) load() (requests int, bytes int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.users {
		requests += l.requests
	}
	return requests, f.total
}
