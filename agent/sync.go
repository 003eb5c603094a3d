package agent

// Clock and entropy refresh (POST /sync). A VM restored from a snapshot wakes with the snapshotted
// guest's wall clock, as far behind as the snapshot is old, and with the snapshotted kernel's random
// pool, identical in every clone of that snapshot. Before a clone serves anyone the host calls
//
//	POST /sync
//	Content-Type: application/json
//	{"unixNanos": <host wall clock>, "seed": "<base64 of 32 random bytes>"}
//
// and the agent steps the clock (clock_settime, CAP_SYS_TIME) and mixes the seed into the kernel's
// pool (RNDADDENTROPY, crediting it, CAP_SYS_ADMIN; a plain write to /dev/urandom, which mixes without
// crediting, when the ioctl is refused). The answer says what the guest clock read before and after.
//
// Who may call it: only the host, by source address (hostonly.go). A token would not tell the host from
// the guest here: a restored clone keeps the kernel command line and memory of the snapshotted VM, so a
// per-boot token would be shared by every clone; /sync runs before the clone's own token is set (POST
// /token). Defence in depth: the body must be application/json, which a web page cannot send
// cross-origin without a CORS preflight that this agent never answers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// SeedLen is the size of the entropy seed /sync takes.
const SeedLen = 32

// Clock steps outside [minSyncTime, maxSyncTime) are refused: a zero or garbage value from a broken
// host would otherwise break TLS in the guest for good.
var (
	minSyncTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	maxSyncTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// SyncRequest is the body of POST /sync. Seed is base64 in JSON.
type SyncRequest struct {
	UnixNanos int64  `json:"unixNanos"`
	Seed      []byte `json:"seed"`
}

// SyncResponse is /sync's answer.
type SyncResponse struct {
	PreviousUnixNanos int64  `json:"previousUnixNanos"` // guest clock just before the step
	UnixNanos         int64  `json:"unixNanos"`         // guest clock just after it
	Entropy           string `json:"entropy"`           // EntropyCredited or EntropyMixed
}

// How the seed reached the kernel.
const (
	EntropyCredited = "credited" // RNDADDENTROPY: mixed in and counted
	EntropyMixed    = "mixed"    // written to /dev/urandom: mixed in, not counted
)

// Syncer serves POST /sync. The zero value is not usable; NewSyncer gives the real one.
type Syncer struct {
	Now        func() time.Time
	SetClock   func(time.Time) error
	AddEntropy func(seed []byte) (how string, err error)
	// LocalAddrs lists the guest's own addresses (loopback is refused separately).
	LocalAddrs AddrLister
}

// NewSyncer returns a Syncer acting on this system's clock, random pool and interfaces.
func NewSyncer() *Syncer {
	return &Syncer{Now: time.Now, SetClock: setClock, AddEntropy: addEntropy, LocalAddrs: interfaceAddrs}
}

// maxSyncBody bounds what a caller can make the agent read.
const maxSyncBody = 4 << 10

func (s *Syncer) serve(w http.ResponseWriter, r *http.Request) error {
	if s == nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no clock sync configured"}
	}
	if err := checkHostPeer(s.LocalAddrs, r.RemoteAddr, "sync"); err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "invalid_body", Message: "want Content-Type: application/json"}
	}
	var req SyncRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSyncBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "want {unixNanos, seed}", Cause: err}
	}
	at := time.Unix(0, req.UnixNanos)
	if at.Before(minSyncTime) || !at.Before(maxSyncTime) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_time", Message: "unixNanos outside 2024..2200"}
	}
	if len(req.Seed) != SeedLen {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_seed", Message: fmt.Sprintf("seed must be %d bytes", SeedLen)}
	}
	before := s.Now()
	if err := s.SetClock(at); err != nil {
		return fmt.Errorf("set clock: %w", err)
	}
	after := s.Now()
	how, err := s.AddEntropy(req.Seed)
	clear(req.Seed)
	if err != nil {
		return fmt.Errorf("add entropy: %w", err)
	}
	writeJSON(w, http.StatusOK, SyncResponse{PreviousUnixNanos: before.UnixNano(), UnixNanos: after.UnixNano(), Entropy: how})
	return nil
}

// Sync is the host's side of POST /sync: it sends now and seed (SeedLen bytes, from crypto/rand) to
// the agent at baseURL (e.g. "http://127.0.0.1:PORT", the VM's forward to port 3000) and returns the
// agent's answer. Call it right after restoring a VM from a snapshot, before anything else talks to
// the guest. A non-2xx answer is an error carrying the agent's message.
func Sync(ctx context.Context, client *http.Client, baseURL string, now time.Time, seed []byte) (SyncResponse, error) {
	if len(seed) != SeedLen {
		return SyncResponse{}, fmt.Errorf("agent: sync seed is %d bytes, want %d", len(seed), SeedLen)
	}
	var out SyncResponse
	err := call(ctx, client, http.MethodPost, baseURL+"/sync", "", SyncRequest{UnixNanos: now.UnixNano(), Seed: seed}, &out)
	return out, err
}

// errUnsupported is what the clock and entropy functions return where the agent cannot act.
var errUnsupported = errors.New("not supported on this system")
