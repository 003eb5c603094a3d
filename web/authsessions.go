package web

import (
	"errors"
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/authsession"
)

// Browser login sessions (package authsession runs them; these are their routes). Reads come from
// the store, so they work with VM support off; every change needs the service. Another user's
// session id, and a viewer ticket of another user, are the same 404 as a made-up id.

// authSessionJSON is a session as the API shows it: the seed's sessionId beside the record, and
// on creation and on request a viewer URL with a fresh single-use ticket.
type authSessionJSON struct {
	SessionID string `json:"sessionId"`
	*polydev.AuthSession
	NoVNCURL string `json:"novncUrl,omitempty"`
}

func authSessionWSPath(id string) string      { return "/api/auth/session/" + id + "/novnc" }
func authSessionTicketRoute(id string) string { return "/api/auth/session/" + id + "/vnc-ticket" }

var errAuthSessionNotFound = polydev.Errorf(polydev.ENOTFOUND, "auth session not found")

// authSessionID returns the path id, or 404 for anything that cannot be a session id.
func authSessionID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !polydev.ValidID(id) {
		return "", errAuthSessionNotFound
	}
	return id, nil
}

// createAuthSession answers POST /api/auth/session {provider | targetUrl}: 201 with the running
// session and a viewer URL, once the VM is taken and the login started in it.
func (s *Server) createAuthSession(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in authsession.Request
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if _, err := in.Validate(); err != nil {
		return err
	}
	if s.authSessions == nil {
		return polydev.ErrVMOff
	}
	a, err := s.authSessions.Create(r.Context(), u, in)
	if err != nil {
		return err
	}
	out := authSessionJSON{SessionID: a.ID, AuthSession: a}
	if a.VMID != "" && a.Status.Active() {
		t, err := s.viewerTicket(u, a.VMID, authSessionWSPath(a.ID))
		if err != nil {
			return err
		}
		out.NoVNCURL = t.URL
	}
	return writeJSON(w, http.StatusCreated, out)
}

// getAuthSession answers GET /api/auth/session/{id}, the status poll.
func (s *Server) getAuthSession(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := authSessionID(r)
	if err != nil {
		return err
	}
	a, err := s.store.AuthSessionByID(r.Context(), u.ID, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, authSessionJSON{SessionID: a.ID, AuthSession: a})
}

// listAuthSessions answers GET /api/auth/sessions: the caller's latest sessions, newest first.
func (s *Server) listAuthSessions(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	list, err := s.store.ListAuthSessions(r.Context(), u.ID, 50)
	if err != nil {
		return err
	}
	out := make([]authSessionJSON, len(list))
	for i, a := range list {
		out[i] = authSessionJSON{SessionID: a.ID, AuthSession: a}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

// deleteAuthSession answers DELETE /api/auth/session/{id}: the session is cancelled and its VM
// reaped; the answer is the session as it ended.
func (s *Server) deleteAuthSession(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := authSessionID(r)
	if err != nil {
		return err
	}
	if s.authSessions == nil {
		if _, err := s.store.AuthSessionByID(r.Context(), u.ID, id); err != nil {
			return err
		}
		return polydev.ErrVMOff
	}
	a, err := s.authSessions.Cancel(r.Context(), u, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, authSessionJSON{SessionID: a.ID, AuthSession: a})
}

// authSessionCredentials answers POST /api/auth/session/{id}/credentials {username, password,
// targetUrl?}: the agent types them into the sign-in form in the VM. 204; nothing is kept.
func (s *Server) authSessionCredentials(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := authSessionID(r)
	if err != nil {
		return err
	}
	var in authsession.AutofillRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if s.authSessions == nil {
		if _, err := s.store.AuthSessionByID(r.Context(), u.ID, id); err != nil {
			return err
		}
		return polydev.ErrVMOff
	}
	if err := s.authSessions.Autofill(r.Context(), u, id, in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// activeAuthSession returns u's session id when it has a VM to watch.
func (s *Server) activeAuthSession(r *http.Request, u *polydev.User) (*polydev.AuthSession, error) {
	id, err := authSessionID(r)
	if err != nil {
		return nil, err
	}
	a, err := s.store.AuthSessionByID(r.Context(), u.ID, id)
	if err != nil {
		return nil, err
	}
	if !a.Status.Active() || a.VMID == "" {
		return nil, polydev.Errorf(polydev.ECONFLICT, "the session is %s: there is no sign-in page to watch", a.Status)
	}
	return a, nil
}

// authSessionTicket answers POST /api/auth/session/{id}/vnc-ticket: a fresh single-use viewer
// ticket for the session's VM.
func (s *Server) authSessionTicket(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	a, err := s.activeAuthSession(r, u)
	if err != nil {
		return err
	}
	t, err := s.viewerTicket(u, a.VMID, authSessionWSPath(a.ID))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

// authSessionNoVNC answers GET /api/auth/session/{id}/novnc?ticket=, the viewer's WebSocket, for
// the session's owner only. A ticket issued to another user is the same 404 as another user's
// session, so neither tells whether the other exists.
func (s *Server) authSessionNoVNC(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	a, err := s.activeAuthSession(r, u)
	if err != nil {
		return err
	}
	err = s.proxyNoVNC(w, r, u, a.VMID, authSessionTicketRoute(a.ID))
	if errors.Is(err, errTicketElsewhere) {
		return polydev.Wrap(polydev.ENOTFOUND, err, "viewer ticket not found; get a new one with POST %s", authSessionTicketRoute(a.ID))
	}
	return err
}
