package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// A viewer ticket lets one WebSocket reach one VM's display: the browser asks for one with its
// credentials (POST /api/vms/{id}/vnc-ticket) and hands it to noVNC, which puts it in the
// WebSocket URL. It is 256-bit random, kept only as its SHA-256, bound to the user and the VM,
// good for vncTicketTTL and spent by the first WebSocket that shows it, whatever the outcome.
// Tickets live in this process's memory: with several replicas, the ticket request and the
// WebSocket must reach the same one (sticky sessions).
const (
	vncTicketTTL       = 60 * time.Second
	vncTicketPrefix    = "pdv_"
	vncTicketsMax      = 4096 // outstanding tickets of all users; past it a request gets 503
	vncTicketsPerUser  = 8    // a user's oldest outstanding ticket goes when a ninth is issued
	vncTicketMaxLength = 64   // longer query values are not looked up
)

type vncTicket struct {
	userID, vmID string
	expires      time.Time
}

// vncTickets is the set of outstanding tickets; the zero value is ready. Expired tickets are swept
// once per TTL and whenever the set is full, so it never grows past vncTicketsMax.
type vncTickets struct {
	mu        sync.Mutex
	byHash    map[[sha256.Size]byte]vncTicket
	perUser   map[string]int
	lastSweep time.Time
}

var errVNCTicketsFull = polydev.Errorf(polydev.EUNAVAILABLE, "too many viewer tickets are pending on this server; retry in a minute")

// issue makes a ticket for userID to watch vmID and returns it with its expiry.
func (t *vncTickets) issue(now time.Time, userID, vmID string) (string, time.Time, error) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	secret := vncTicketPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	expires := now.Add(vncTicketTTL)

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byHash == nil {
		t.byHash = make(map[[sha256.Size]byte]vncTicket)
		t.perUser = make(map[string]int)
	}
	if len(t.byHash) >= vncTicketsMax || now.Sub(t.lastSweep) >= vncTicketTTL {
		t.sweep(now)
	}
	if t.perUser[userID] >= vncTicketsPerUser {
		t.dropOldest(userID)
	}
	if len(t.byHash) >= vncTicketsMax {
		return "", time.Time{}, errVNCTicketsFull
	}
	t.byHash[sha256.Sum256([]byte(secret))] = vncTicket{userID: userID, vmID: vmID, expires: expires}
	t.perUser[userID]++
	return secret, expires, nil
}

// errTicketElsewhere is redeem's answer to a ticket issued for another user or VM.
var errTicketElsewhere = polydev.Errorf(polydev.EFORBIDDEN, "viewer ticket was issued for another VM or user")

// redeem spends secret for userID's WebSocket to vmID; ticketRoute is where a new one comes from.
// Any ticket shown is spent, even one that is then refused, so a ticket can never be tried twice.
// A ticket of another user or VM is errTicketElsewhere (wrapped).
func (t *vncTickets) redeem(now time.Time, secret, userID, vmID, ticketRoute string) error {
	again := "; get a new one with POST " + ticketRoute
	if secret == "" {
		return polydev.Errorf(polydev.EFORBIDDEN, "a viewer ticket is required (the ticket query parameter)%s", again)
	}
	tk, ok := t.take(secret)
	switch {
	case !ok:
		return polydev.Errorf(polydev.EFORBIDDEN, "viewer ticket unknown or already used (each ticket opens one WebSocket)%s", again)
	case !now.Before(tk.expires):
		return polydev.Errorf(polydev.EFORBIDDEN, "viewer ticket expired (tickets last %s)%s", vncTicketTTL, again)
	case tk.userID != userID || tk.vmID != vmID:
		return polydev.Wrap(polydev.EFORBIDDEN, errTicketElsewhere, "viewer ticket was issued for another VM or user%s", again)
	}
	return nil
}

// take removes and returns the ticket secret names.
func (t *vncTickets) take(secret string) (vncTicket, bool) {
	if len(secret) > vncTicketMaxLength || !strings.HasPrefix(secret, vncTicketPrefix) {
		return vncTicket{}, false
	}
	h := sha256.Sum256([]byte(secret))
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.byHash[h]
	if ok {
		t.remove(h, tk)
	}
	return tk, ok
}

func (t *vncTickets) remove(h [sha256.Size]byte, tk vncTicket) {
	delete(t.byHash, h)
	if t.perUser[tk.userID]--; t.perUser[tk.userID] <= 0 {
		delete(t.perUser, tk.userID)
	}
}

func (t *vncTickets) sweep(now time.Time) {
	for h, tk := range t.byHash {
		if !now.Before(tk.expires) {
			t.remove(h, tk)
		}
	}
	t.lastSweep = now
}

func (t *vncTickets) dropOldest(userID string) {
	var oldest [sha256.Size]byte
	var at time.Time
	found := false
	for h, tk := range t.byHash {
		if tk.userID == userID && (!found || tk.expires.Before(at)) {
			oldest, at, found = h, tk.expires, true
		}
	}
	if found {
		t.remove(oldest, t.byHash[oldest])
	}
}

// len is the number of outstanding tickets (tests).
func (t *vncTickets) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byHash)
}

// vncTicketResponse is the answer to POST /api/vms/{id}/vnc-ticket.
type vncTicketResponse struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expiresAt"`
	// URL opens the host's noVNC page set to connect at once through Path. The ticket travels in
	// the fragment, which browsers never send to a server.
	URL string `json:"url"`
	// Path is the WebSocket's path and query on this host, for clients other than noVNC.
	Path string `json:"path"`
}

// createVNCTicket answers POST /api/vms/{id}/vnc-ticket for the owner of a running VM.
func (s *Server) createVNCTicket(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	id, err := vmID(r)
	if err != nil {
		return err
	}
	v, err := s.store.VMByID(r.Context(), u.ID, id)
	if err != nil {
		return err
	}
	if v.State != polydev.VMRunning {
		return errVMNotRunning(v)
	}
	t, err := s.viewerTicket(u, v.ID, novncWebSocketPath(v.ID))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

// viewerTicket issues a ticket for u to watch VM vmID through the WebSocket at wsPath.
func (s *Server) viewerTicket(u *polydev.User, vmID, wsPath string) (*vncTicketResponse, error) {
	secret, expires, err := s.vnc.tickets.issue(s.now(), u.ID, vmID)
	if err != nil {
		return nil, err
	}
	wsPath += "?" + url.Values{"ticket": {secret}}.Encode()
	view := url.Values{"autoconnect": {"true"}, "resize": {"scale"}, "reconnect": {"false"},
		"path": {strings.TrimPrefix(wsPath, "/")}} // noVNC joins it to the page's host with a slash
	return &vncTicketResponse{
		Ticket: secret, ExpiresAt: expires.UTC(), Path: wsPath, URL: novncStaticPrefix + "vnc.html#" + view.Encode(),
	}, nil
}

func errVMNotRunning(v *polydev.VM) error {
	return polydev.Errorf(polydev.ECONFLICT, "VM is %s, not running: start it with POST /api/vms/%s/start", v.State, v.ID)
}
