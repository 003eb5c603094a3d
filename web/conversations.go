package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/policy"
)

// queryInt reads an optional integer query parameter within [lo, hi]; anything else is a 400.
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	raw, ok := r.URL.Query()[name]
	if !ok {
		return def, nil
	}
	if len(raw) != 1 {
		return 0, polydev.Errorf(polydev.EINVALID, "%s must be given once", name)
	}
	v, err := strconv.ParseInt(raw[0], 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, polydev.Errorf(polydev.EINVALID, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return v, nil
}

// sessionID reads the {id} path value: a conversation id is a UUID, in any case.
func sessionID(r *http.Request) (string, error) {
	id := strings.ToLower(r.PathValue("id"))
	if !polydev.ValidID(id) {
		return "", polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	return id, nil
}

// listSessions answers GET /api/chat/sessions: the caller's stored conversations, newest first.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	limit, err := queryInt(r, "limit", 50, 1, conversations.MaxListLimit)
	if err != nil {
		return err
	}
	list, err := s.convs.List(r.Context(), u.ID, int(limit))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// getSession answers GET /api/chat/sessions/{id}: the conversation with its first messages
// (hasMore says whether GET .../messages?after= has more).
func (s *Server) getSession(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	sum, err := s.convs.Get(r.Context(), u.ID, id)
	if err != nil {
		return err
	}
	msgs, err := s.convs.Messages(r.Context(), u.ID, id, -1, conversations.MaxMessageLimit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"session": sum, "messages": msgs, "hasMore": int64(len(msgs)) < sum.MessageCount,
	})
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	if err := s.convs.Delete(r.Context(), u.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// renameSession answers PATCH /api/chat/sessions/{id} {title}: the conversation with its new title.
func (s *Server) renameSession(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	var in struct {
		Title string `json:"title"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	sum, err := s.convs.Rename(r.Context(), u.ID, id, in.Title)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"session": sum})
}

// listSessionMessages answers GET /api/chat/sessions/{id}/messages?after=SEQ&limit=N.
func (s *Server) listSessionMessages(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	after, err := queryInt(r, "after", -1, -1, 1<<53)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", conversations.MaxMessageLimit, 1, conversations.MaxMessageLimit)
	if err != nil {
		return err
	}
	msgs, err := s.convs.Messages(r.Context(), u.ID, id, after, int(limit))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

type newMessageBody struct {
	Role    polydev.MessageRole `json:"role"`
	Content string              `json:"content"`
}

// postSessionMessage answers POST /api/chat/sessions/{id}/messages {role, content}: the UI stores a
// message, creating the conversation if it is new. Refused in ephemeral mode, where no content is
// stored.
func (s *Server) postSessionMessage(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	var in newMessageBody
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	eph, err := policy.EffectiveEphemeral(r.Context(), s.store, u)
	if err != nil {
		return err
	}
	if eph {
		return polydev.Errorf(polydev.EFORBIDDEN, "ephemeral mode is on: message content is not stored; turn it off in the security settings to keep history")
	}
	out, err := s.convs.Append(r.Context(), u.ID, id, conversations.Origin{}, []conversations.NewMessage{{Role: in.Role, Content: in.Content}})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"message": out[0]})
}
