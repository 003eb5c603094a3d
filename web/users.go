package web

import (
	"net/http"
	"strconv"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
)

// Administering users: list and search, change tier and role, disable and enable, set a new
// password. Every change is logged with the admin's id, never with a password.

const defaultUserPage = 100

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ *polydev.User) error {
	q := polydev.UserQuery{Search: r.URL.Query().Get("q"), After: r.URL.Query().Get("after"), Limit: defaultUserPage}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return polydev.Errorf(polydev.EINVALID, "limit must be between 1 and 500")
		}
		q.Limit = n
	}
	if len(q.Search) > auth.MaxEmailLen || len(q.After) > auth.MaxEmailLen {
		return polydev.Errorf(polydev.EINVALID, "q and after must be at most %d bytes", auth.MaxEmailLen)
	}
	users, err := s.store.ListUsers(r.Context(), q)
	if err != nil {
		return err
	}
	next := ""
	if len(users) == q.Limit {
		next = users[len(users)-1].Email
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": users, "next": next})
}

// targetUser reads the {id} of an admin route: an unknown or malformed id is the same 404.
func (s *Server) targetUser(r *http.Request) (*polydev.User, error) {
	id := r.PathValue("id")
	if !polydev.ValidID(id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "user not found")
	}
	return s.store.UserByID(r.Context(), id)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ *polydev.User) error {
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, userResponse{u})
}

type userPatch struct {
	Tier     *polydev.Tier `json:"tier"`
	Role     *polydev.Role `json:"role"`
	Disabled *bool         `json:"disabled"`
}

// updateUser changes tier, role and disabled state. An admin cannot demote or disable their own
// account, so the last admin cannot lock everyone out by mistake. Disabling ends the user's
// sessions at once; their API tokens are refused from the next request (within the store cache's
// 2 s on other replicas).
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, admin *polydev.User) error {
	var in userPatch
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Tier == nil && in.Role == nil && in.Disabled == nil {
		return polydev.Errorf(polydev.EINVALID, "nothing to change: send tier, role or disabled")
	}
	if in.Tier != nil && !in.Tier.Valid() {
		return polydev.Errorf(polydev.EINVALID, "tier must be free, plus, pro or enterprise")
	}
	if in.Role != nil && !in.Role.Valid() {
		return polydev.Errorf(polydev.EINVALID, "role must be user or admin")
	}
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	if u.ID == admin.ID && (in.Role != nil && *in.Role != polydev.RoleAdmin || in.Disabled != nil && *in.Disabled) {
		return polydev.Errorf(polydev.EINVALID, "you cannot demote or disable your own account; ask another administrator")
	}
	now := s.now()
	changed := *u
	if in.Tier != nil {
		changed.Tier = *in.Tier
	}
	if in.Role != nil {
		changed.Role = *in.Role
	}
	if in.Disabled != nil {
		switch {
		case *in.Disabled && !u.Disabled():
			changed.DisabledAt = &now
		case !*in.Disabled:
			changed.DisabledAt = nil
		}
	}
	changed.UpdatedAt = now
	if err := s.store.UpdateUser(r.Context(), &changed); err != nil {
		return err
	}
	if changed.Disabled() {
		if err := s.store.DeleteUserSessions(r.Context(), u.ID, ""); err != nil {
			return err
		}
	}
	if changed.Tier != u.Tier {
		s.ApplyTierChange(r.Context(), polydev.TierChange{Applied: true, UserID: u.ID, From: u.Tier, To: changed.Tier})
	}
	s.log.Info("user changed", "request_id", requestIDFrom(r.Context()), "admin_id", admin.ID, "user_id", u.ID,
		"tier", changed.Tier, "role", changed.Role, "disabled", changed.Disabled())
	return writeJSON(w, http.StatusOK, userResponse{&changed})
}

type newPassword struct {
	Password string `json:"password"`
}

// resetUserPassword sets a new password chosen by an admin (for a user who lost theirs) and ends
// every session of that user.
func (s *Server) resetUserPassword(w http.ResponseWriter, r *http.Request, admin *polydev.User) error {
	var in newPassword
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := polydev.CheckPassword(in.Password); err != nil {
		return err
	}
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	leave, err := s.hashSlot(w, r)
	if err != nil {
		return err
	}
	defer leave()
	if err := s.setPassword(r, u, in.Password, ""); err != nil {
		return err
	}
	s.log.Info("password reset by an administrator", "request_id", requestIDFrom(r.Context()), "admin_id", admin.ID, "user_id", u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setPassword stores a new password hash for u and ends u's sessions except keep (a session id,
// or "" for all). Mailed reset links still out stop working: they were for the old password.
func (s *Server) setPassword(r *http.Request, u *polydev.User, password, keep string) error {
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	changed := *u
	changed.PasswordHash, changed.UpdatedAt = hash, s.now()
	if err := s.store.UpdateUser(r.Context(), &changed); err != nil {
		return err
	}
	if err := s.store.DeleteUserSessions(r.Context(), u.ID, keep); err != nil {
		return err
	}
	return s.store.DeleteMailTokens(r.Context(), u.ID, polydev.MailReset)
}
