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
// Who may call it: only the host. The agent listens on every guest address because the host reaches
// it through the VMM's forward (user networking: from the gateway 10.0.2.2; TAP: from the host's end
// of the link), but the guest's own processes, the browser above all (any web page can POST to
// http://127.0.0.1:3000 or to the guest's eth0 address), reach the same socket too. A token would
// not tell them apart: a restored clone keeps the kernel command line and memory of the snapshotted
// VM, so a per-boot token would be shared by every clone and readable in /proc/cmdline. What a guest
// process cannot choose without raw sockets is the source address: a connection it opens to any
// guest address comes from a guest address. So /sync answers 403 unless the peer's address is neither
// loopback nor one of the guest's own interface addresses. Root in the guest could forge one, but
// root in the guest can set the clock anyway. Defence in depth: the body must be application/json,
// which a web page cannot send cross-origin without a CORS preflight that this agent never answers.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
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
	LocalAddrs func() ([]netip.Addr, error)
}

// NewSyncer returns a Syncer acting on this system's clock, random pool and interfaces.
func NewSyncer() *Syncer {
	return &Syncer{Now: time.Now, SetClock: setClock, AddEntropy: addEntropy, LocalAddrs: interfaceAddrs}
}

func interfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

// maxSyncBody bounds what a caller can make the agent read.
const maxSyncBody = 4 << 10

func (s *Syncer) serve(w http.ResponseWriter, r *http.Request) error {
	if s == nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no clock sync configured"}
	}
	if err := s.checkPeer(r.RemoteAddr); err != nil {
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

// checkPeer refuses callers inside the guest: loopback and the guest's own addresses.
func (s *Syncer) checkPeer(remote string) error {
	forbidden := &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "sync is for the host only"}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		forbidden.Cause = err
		return forbidden
	}
	peer := ap.Addr().Unmap()
	if peer.IsLoopback() || peer.IsUnspecified() {
		return forbidden
	}
	local, err := s.LocalAddrs()
	if err != nil {
		return fmt.Errorf("list guest addresses: %w", err) // fail closed, as a 500
	}
	for _, a := range local {
		if a.Unmap() == peer {
			return forbidden
		}
	}
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
	body, err := json.Marshal(SyncRequest{UnixNanos: now.UnixNano(), Seed: seed})
	if err != nil {
		return SyncResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/sync", bytes.NewReader(body))
	if err != nil {
		return SyncResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	clear(body)
	if err != nil {
		return SyncResponse{}, fmt.Errorf("agent: sync: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return SyncResponse{}, fmt.Errorf("agent: sync: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message, Code string } `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return SyncResponse{}, fmt.Errorf("agent: sync: %s: %s (%s)", resp.Status, e.Error.Message, e.Error.Code)
	}
	var out SyncResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return SyncResponse{}, fmt.Errorf("agent: sync: decode answer: %w", err)
	}
	return out, nil
}

// errUnsupported is what the clock and entropy functions return where the agent cannot act.
var errUnsupported = errors.New("not supported on this system")
