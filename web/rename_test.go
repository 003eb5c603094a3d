package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/conversations"
)

// TestRenameSession: PATCH /api/chat/sessions/{id} {title} renames the owner's conversation; a bad
// title, another user's conversation and a made-up id change nothing.
func TestRenameSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	c := e.userWithTier("rename@example.com", polydev.TierPlus)
	other := e.userWithTier("other@example.com", polydev.TierPlus)
	sid := polydev.NewID()
	e.want(e.do("POST", "/api/chat/sessions/"+sid+"/messages", map[string]string{"role": "user", "content": "first words"}, "Cookie", c), http.StatusCreated)

	var out struct{ Session conversations.Summary }
	e.want(e.do("PATCH", "/api/chat/sessions/"+sid, map[string]string{"title": "  Trip plans  "}, "Cookie", c), http.StatusOK).json(t, &out)
	if out.Session.Title != "Trip plans" || out.Session.ID != sid {
		t.Fatalf("renamed = %+v", out.Session)
	}
	for _, body := range []any{map[string]string{"title": ""}, map[string]string{"title": "two\nlines"}, `{"title":7}`, `{"name":"x"}`} {
		e.want(e.do("PATCH", "/api/chat/sessions/"+sid, body, "Cookie", c), http.StatusBadRequest).errorBody(t)
	}
	e.want(e.do("PATCH", "/api/chat/sessions/"+sid, map[string]string{"title": "mine now"}, "Cookie", other), http.StatusNotFound).errorBody(t)
	e.want(e.do("PATCH", "/api/chat/sessions/"+polydev.NewID(), map[string]string{"title": "x"}, "Cookie", c), http.StatusNotFound).errorBody(t)
	e.want(e.do("PATCH", "/api/chat/sessions/"+sid, map[string]string{"title": "x"}), http.StatusUnauthorized)

	var got struct{ Session conversations.Summary }
	e.want(e.do("GET", "/api/chat/sessions/"+sid, nil, "Cookie", c), http.StatusOK).json(t, &got)
	if got.Session.Title != "Trip plans" {
		t.Fatalf("after refused renames the title is %q", got.Session.Title)
	}
	if long := strings.Repeat("é", 300); true {
		e.want(e.do("PATCH", "/api/chat/sessions/"+sid, map[string]string{"title": long}, "Cookie", c), http.StatusOK).json(t, &out)
		if n := len([]rune(out.Session.Title)); n != conversations.MaxTitleRunes {
			t.Fatalf("a long title is cut to %d runes, got %d", conversations.MaxTitleRunes, n)
		}
	}
}
