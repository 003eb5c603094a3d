package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/polydev/polydev"
)

// Admission is the one prologue of every gateway surface, in this order:
//
//  1. the body's read deadline is set (GatewayBodyTimeout from arrival), so nothing after it,
//     not even a refusal's discarded body, can hold the connection longer;
//  2. the caller is authenticated (a disabled account stops here);
//  3. checks that need no body: the account's requests in flight (UserRequests), a tier limit
//     that refused it and has not reset yet (refusals), whether the tier can use the gateway at
//     all, and what the surface knows from its path (gate.beforeBody: the Gemini routes' model);
//  4. only then the body is read: refused at once when its Content-Length is over the surface's
//     cap (GatewayBodyLimits) or over what an account may hold; its bytes are taken from the
//     account's and the server's bytes in flight before they are read (as it arrives when the
//     length is unknown), and given back when the handler is done with it.
//
// A request refused before its body was read is answered without reading the body into memory:
// net/http discards what fits its 256 KiB post-handler allowance, for refusalDrainWait at most, so
// that the client reads the answer (not a reset connection), and closes the connection gracefully
// when the body is bigger.

// refusalDrainWait bounds how long a refused request's unread body is discarded.
const refusalDrainWait = 2 * time.Second

// Gateway body-limit names: the keys of Config.GatewayBodyLimits, one per surface.
const (
	LimitChatCompletions = "chat_completions" // POST /v1/chat/completions
	LimitMessages        = "messages"         // POST /v1/messages
	LimitCountTokens     = "count_tokens"     // POST /v1/messages/count_tokens
	LimitResponses       = "responses"        // POST /v1/responses
	LimitEmbeddings      = "embeddings"       // POST /v1/embeddings
	LimitGemini          = "gemini"           // POST /v1beta/models/..., /v1/models/...
	LimitWebChat         = "web_chat"         // POST /api/chat/completions
	LimitMCP             = "mcp"              // /mcp (JSON-RPC messages)
)

// GatewayLimitNames lists the body-limit names (for configuration checks).
var GatewayLimitNames = []string{LimitChatCompletions, LimitMessages, LimitCountTokens, LimitResponses, LimitEmbeddings, LimitGemini, LimitWebChat, LimitMCP}

// gate describes a surface to admission.
type gate struct {
	limit    string      // which body cap applies (GatewayBodyLimits)
	writeErr ErrorWriter // the surface's error shape
	// auth finds the caller; nil is s.authenticate (the Gemini routes also read x-goog-api-key).
	auth func(w http.ResponseWriter, r *http.Request) (*polydev.User, error)
	// beforeBody checks what the surface knows without the body, with the caller's tier row.
	beforeBody func(ctx context.Context, u *polydev.User, lim *polydev.TierLimits) error
	// anyTier skips the tier checks of step 3 (a remembered tier-limit refusal, a tier that makes
	// no gateway request): /mcp also serves list_models and usage_summary, and each model call of
	// its get_perspectives passes the router's own admission.
	anyTier bool
}

// admission is a request that passed: its caller, its body, and its share of what is in flight,
// held until done.
//
// The body is read into a pooled buffer (pooledBody) whose one reference is the handler's: the
// passthrough path (relayCall) releases it when it is done and the upstream request holds its own
// until the transport closed it; the translated paths leave it to the collector, as before
// admission. The account's and the server's bytes in flight are given back by done, when the
// handler returns, not when the last reference goes: a reference that is never released (a path
// that keeps b) would otherwise hold the account's bytes for ever. So the count can end a little
// before the memory is free: by what upstream transports still write after their answer came,
// which their own timeouts bound.
type admission struct {
	user    *polydev.User
	body    *pooledBody
	arrival time.Time
	ticket  *ticket
}

// done gives back the request's slot and body bytes; handlers defer it. It leaves the body's
// reference to its owner (see admission).
func (a *admission) done() { a.ticket.done() }

// admit runs admission for one request. On failure it has answered in the surface's shape.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, g gate) (*admission, bool) {
	a := &admission{arrival: time.Now()}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(a.arrival.Add(s.cfg.GatewayBodyTimeout))
	err := s.admitBeforeBody(w, r, g, a)
	if err == nil {
		a.body, err = s.readGatewayBody(w, r, g.limit, a.ticket)
	}
	if err != nil {
		a.done()
		// Whatever of the body is unread is left to net/http, which discards up to 256 KiB of it
		// (io.Discard, no buffering) before the answer and closes the connection gracefully when
		// more remains (a FIN, then a short wait). Closing at once instead, with the body unread,
		// resets the connection under a client still writing it: the client reads a network error
		// instead of the 401 and retries (Codex and Gemini CLI did, on a wrong token). The discard
		// gets refusalDrainWait at most, never past the body's deadline.
		if d := time.Now().Add(refusalDrainWait); d.Before(a.arrival.Add(s.cfg.GatewayBodyTimeout)) {
			_ = rc.SetReadDeadline(d)
		}
		s.gatewayError(w, r, g.writeErr, err)
		return nil, false
	}
	// A streamed answer outlives the body: a deadline left behind would cut it (decodeJSON).
	_ = rc.SetReadDeadline(time.Time{})
	return a, true
}

// admitBeforeBody is steps 2 and 3.
func (s *Server) admitBeforeBody(w http.ResponseWriter, r *http.Request, g gate, a *admission) error {
	auth := g.auth
	if auth == nil {
		auth = s.authenticate
	}
	u, err := auth(w, r)
	if err != nil {
		return err
	}
	a.user = u
	if a.ticket, err = s.inflight.enter(u.ID); err != nil {
		return err
	}
	if g.anyTier {
		return nil
	}
	if err := s.refusals.check(u.ID, s.now()); err != nil {
		return err
	}
	lim, err := s.store.TierLimitsFor(r.Context(), u.Tier)
	if err != nil {
		return err
	}
	if err := tierServes(u, lim); err != nil {
		return err
	}
	if g.beforeBody != nil {
		return g.beforeBody(r.Context(), u, lim)
	}
	return nil
}

// tierServes refuses a tier that can make no gateway request at all, whatever the body says.
func tierServes(u *polydev.User, lim *polydev.TierLimits) error {
	zero := func(v *int64) bool { return v != nil && *v == 0 }
	switch {
	case zero(lim.RequestsPerDay) || zero(lim.RequestsPerMinute):
		return polydev.Errorf(polydev.EFORBIDDEN, "the %s tier allows no gateway requests", u.Tier)
	case lim.BYOK == polydev.BYOKUnavailable && !lim.PlatformKeys:
		return polydev.Errorf(polydev.EFORBIDDEN, "the %s tier has no provider keys to use: ask an administrator", u.Tier)
	}
	return nil
}

// bodyStep is how many bytes of a body of unknown length are taken from the bytes in flight at a
// time, ahead of reading them.
const bodyStep = 1 << 20

// readGatewayBody reads the body within the surface's cap into a pooled buffer (the caller holds
// its one reference), taking its bytes from the ticket first. It is the one way a gateway body is
// read.
func (s *Server) readGatewayBody(w http.ResponseWriter, r *http.Request, limitName string, t *ticket) (*pooledBody, error) {
	limit := s.bodyLimit(limitName)
	n := r.ContentLength
	if n > limit {
		return nil, polydev.Errorf(polydev.ETOOLARGE, "request body is larger than %d bytes", limit)
	}
	if n > 0 && !s.inflight.fits(n) {
		return nil, polydev.Errorf(polydev.ETOOLARGE, "request body of %d bytes is larger than an account may have in flight (%d bytes)", n, s.inflight.maxUserBytes)
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if n >= 0 {
		// Taken before readAllInto sizes its buffer from n.
		if err := t.take(n); err != nil {
			return nil, err
		}
	} else {
		src = &meteredReader{r: src, t: t}
	}
	defer bodyPhase(r.Context())()
	p := newPooledBody()
	b, err := readAllInto(src, n, p.b)
	p.b = b
	if err == nil {
		return p, nil
	}
	p.Release()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, new(*polydev.LimitError)):
		return nil, err
	case errors.As(err, &tooBig):
		return nil, polydev.Errorf(polydev.ETOOLARGE, "request body is larger than %d bytes", limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, polydev.Wrap(polydev.EINVALID, err, "request body was not received within %s", s.cfg.GatewayBodyTimeout)
	}
	return nil, polydev.Wrap(polydev.EINVALID, err, "request body could not be read")
}

// bodyLimit is the body cap of a surface.
func (s *Server) bodyLimit(name string) int64 {
	if n, ok := s.cfg.GatewayBodyLimits[name]; ok && n > 0 {
		return n
	}
	return s.cfg.MaxGatewayBodyBytes
}

// meteredReader takes a body of unknown length from the bytes in flight bodyStep at a time, before
// reading it.
type meteredReader struct {
	r       io.Reader
	t       *ticket
	allowed int64
	read    int64
}

func (m *meteredReader) Read(p []byte) (int, error) {
	if m.read == m.allowed {
		if err := m.t.take(bodyStep); err != nil {
			return 0, err
		}
		m.allowed += bodyStep
	}
	if room := m.allowed - m.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := m.r.Read(p)
	m.read += int64(n)
	return n, err
}
