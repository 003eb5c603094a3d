package egress

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Usage is what a session's guest moved through the proxy.
type Usage struct {
	BytesUp   int64 // guest to the world (requests, including what the proxy parsed)
	BytesDown int64 // the world to the guest (including the proxy's own answers)
	Requests  int64 // CONNECTs and plain-HTTP requests allowed
	Refused   int64 // requests refused (allow-list, limits, destination)
}

// Session is one login session's use of a VM's egress. Its methods are safe for concurrent use.
type Session struct {
	g   *gate
	pol Policy

	// ctx ends when the session does (Close, a limit, CloseVM); tunnels close with it.
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer

	up, down, requests, refused atomic.Int64
	over                        atomic.Bool  // the byte limit was crossed
	overAt                      atomic.Int64 // the gate's last connection number then

	mu     sync.Mutex
	ended  string // why the session stopped allowing traffic; "" while it does
	closed bool
}

func newSession(g *gate, pol Policy) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	return &Session{g: g, pol: pol, ctx: ctx, cancel: cancel}
}

// start arms the time limit.
func (s *Session) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = time.AfterFunc(s.pol.MaxDuration, func() { s.end("session time limit reached") })
}

// ID returns the session id the policy named.
func (s *Session) ID() string { return s.pol.Session }

// Usage returns the session's counters so far.
func (s *Session) Usage() Usage {
	return Usage{BytesUp: s.up.Load(), BytesDown: s.down.Load(), Requests: s.requests.Load(), Refused: s.refused.Load()}
}

// Close unbinds the session from its VM: its connections close at once and the VM's egress
// refuses everything again until another session is opened. It is idempotent.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.ended == "" {
		s.ended = "session closed"
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.cancel()
	s.g.unbind(s)
	s.g.p.metrics.sessions.Dec()
	u := s.Usage()
	s.g.p.log.Info("egress session closed", "session", s.pol.Session, "vm", s.g.vmID,
		"bytes_up", u.BytesUp, "bytes_down", u.BytesDown, "requests", u.Requests, "refused", u.Refused)
}

// end stops the session allowing traffic (a limit was reached) and cuts its connections; it stays
// bound, so later requests are refused with the reason, until Close.
func (s *Session) end(reason string) {
	upTo := s.g.seq.Load()
	if reason == "session byte limit reached" {
		upTo = s.overAt.Load()
	}
	s.mu.Lock()
	if s.ended != "" {
		s.mu.Unlock()
		return
	}
	s.ended = reason
	s.mu.Unlock()
	s.g.p.metrics.limits.WithLabelValues(limitLabel(reason)).Inc()
	s.g.p.log.Info("egress session limit", "session", s.pol.Session, "vm", s.g.vmID, "reason", reason)
	s.cancel()
	s.g.dropConns(upTo)
}

// refusalReason returns why the session no longer allows traffic, or "".
func (s *Session) refusalReason() string {
	if s.over.Load() {
		return "session byte limit reached"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

func (s *Session) charge(n int64, up bool) {
	if up {
		s.up.Add(n)
	} else {
		s.down.Add(n)
	}
	if s.up.Load()+s.down.Load() > s.pol.MaxBytes && s.over.CompareAndSwap(false, true) {
		s.overAt.Store(s.g.seq.Load())
		go s.end("session byte limit reached") // not from inside the connection's own Read
	}
}

func limitLabel(reason string) string {
	if reason == "session byte limit reached" {
		return "bytes"
	}
	return "time"
}
