package agent

// The per-clone token (POST /token). Every clone of a golden snapshot shares the snapshotted VM's
// memory, disk and kernel command line, so nothing baked into the guest before the snapshot can tell
// one clone's host session from another's. The host therefore gives each clone its own secret after
// restoring it (after POST /sync, before handing the VM out):
//
//	POST /token
//	Content-Type: application/json
//	{"token": "<32..512 characters>"}
//
// host-only by source address (hostonly.go), accepted once per boot (409 afterwards: a guest process
// that somehow got through first would lock the host out, which the host sees and answers by
// destroying the VM, never the other way round). Every endpoint that acts for a session (/login,
// /login/credential, /credentials) then needs both the host-only source address and
// Authorization: Bearer <token>, compared in constant time over SHA-256 digests.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
)

// Token length bounds: at least 128 bits of hex, at most what a header comfortably carries.
const (
	MinTokenLen = 32
	MaxTokenLen = 512
)

// TokenGate holds the clone's token and guards the endpoints that need it. The zero value has no
// token yet.
type TokenGate struct {
	// LocalAddrs lists the guest's own addresses for the host-only rule; nil means the interfaces'.
	LocalAddrs AddrLister

	mu  sync.Mutex
	sum [sha256.Size]byte // of the token; comparing fixed-size digests keeps the compare length-blind
	set bool
}

// TokenRequest is the body of POST /token.
type TokenRequest struct {
	Token string `json:"token"`
}

// Set installs the token; it fails when one is set already or it has the wrong length.
func (g *TokenGate) Set(token string) error {
	if n := len(token); n < MinTokenLen || n > MaxTokenLen {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_token", Message: "token must be 32..512 characters"}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.set {
		return &Error{Status: http.StatusConflict, Code: "token_set", Message: "this guest already has its token"}
	}
	g.sum, g.set = sha256.Sum256([]byte(token)), true
	return nil
}

func (g *TokenGate) serveSet(w http.ResponseWriter, r *http.Request) error {
	if err := checkHostPeer(g.LocalAddrs, r.RemoteAddr, "token"); err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "invalid_body", Message: "want Content-Type: application/json"}
	}
	var req TokenRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "want {token}", Cause: err}
	}
	if err := g.Set(req.Token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// guard wraps h with the host-only rule and the bearer token.
func (g *TokenGate) guard(what string, h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkHostPeer(g.LocalAddrs, r.RemoteAddr, what); err != nil {
			return err
		}
		presented, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(presented))
		g.mu.Lock()
		valid := ok && g.set && subtle.ConstantTimeCompare(sum[:], g.sum[:]) == 1
		g.mu.Unlock()
		if !valid {
			return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "missing or invalid token"}
		}
		return h(w, r)
	}
}
