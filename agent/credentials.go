package agent

// The credential hand-back (DESIGN.md section 5): the host never puts credentials in the guest's
// environment, kernel command line or disk. At boot the host gives the guest a one-time token (kernel
// command line polydev.token=, or a file on a config drive); later it sends the credentials once over
// the host-guest channel (the VMM's forward to this agent's port) as
//
//	POST /credentials
//	Authorization: Bearer <token>
//	{"target_url": "...", "username": "...", "password": "..."}
//
// The token is compared in constant time and is spent by the first successful hand-back: a second
// request, with the same token or any other, gets 401. With no token configured the endpoint does not
// exist (404), so an image booted without one cannot be fed credentials at all. What happens to the
// credentials (typing them into the page over DevTools) is the CredentialSink's job, still a stub.
//
// Trust notes: /proc/cmdline is readable by every guest process, so a compromised guest could race the
// host for the token; the cost is a refused hand-back (the host sees 401 and destroys the VM), never a
// leak, since the token carries no secret of its own. Prefer the file source, which is removed after
// reading.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Credentials are what the host hands to the guest's browser.
type Credentials struct {
	TargetURL string `json:"target_url"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// CredentialSink receives credentials accepted by the gate.
type CredentialSink func(ctx context.Context, c Credentials) error

// CredentialGate guards POST /credentials with a one-time token.
type CredentialGate struct {
	mu    sync.Mutex
	sum   [sha256.Size]byte // of the token; comparing fixed-size digests keeps the compare length-blind
	set   bool
	spent bool
	sink  CredentialSink
}

// MinTokenLen is the shortest token accepted: 128 bits of hex.
const MinTokenLen = 32

// NewCredentialGate returns a gate for token; an empty token gives a gate that refuses everything
// with 404. sink may be nil (credentials are then accepted and dropped).
func NewCredentialGate(token string, sink CredentialSink) (*CredentialGate, error) {
	g := &CredentialGate{sink: sink}
	if token == "" {
		return g, nil
	}
	if len(token) < MinTokenLen {
		return nil, errors.New("agent: one-time token too short")
	}
	g.sum, g.set = sha256.Sum256([]byte(token)), true
	return g, nil
}

// maxCredentialBody bounds what an unauthenticated caller can make the agent read.
const maxCredentialBody = 64 << 10

func (g *CredentialGate) serve(w http.ResponseWriter, r *http.Request) error {
	if g == nil || !g.set {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no credential hand-back configured"}
	}
	presented, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	// The lock makes check-and-spend atomic: of two concurrent requests with the right token, one wins.
	g.mu.Lock()
	defer g.mu.Unlock()
	sum := sha256.Sum256([]byte(presented))
	if !ok || g.spent || subtle.ConstantTimeCompare(sum[:], g.sum[:]) != 1 {
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "invalid or spent token"}
	}
	var c Credentials
	dec := json.NewDecoder(io.LimitReader(r.Body, maxCredentialBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.TargetURL == "" {
		// Not spent: the host may retry with a well-formed body.
		return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "want {target_url, username, password}", Cause: err}
	}
	if g.sink != nil {
		if err := g.sink(r.Context(), c); err != nil {
			return err
		}
	}
	g.spent = true
	w.WriteHeader(http.StatusNoContent)
	return nil
}
