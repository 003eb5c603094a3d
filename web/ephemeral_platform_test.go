package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/internal/testkit"
)

// TestEphemeralWithoutOwnKey: a pro user (ephemeral mode on by default) without a key of their
// own is served with the platform's key, every response says ephemeral mode did not apply, and
// the web chat stores the conversation (encrypted: TestConversationCanary) instead of only its
// metadata. With strict ephemeral on, the same requests are refused with what to do, and reach no
// upstream; with a key of their own, ephemeral mode applies again.
func TestEphemeralWithoutOwnKey(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := gatewayEnv(t, engine)
			fakes := e.platformFakes(testkit.WithScript(testkit.Script{Text: "platform answer", Usage: testkit.Usage{PromptTokens: 5, CompletionTokens: 2}}))
			platform := fakes[0].up
			cookie := e.userWithTier("pro-nokey@example.com", polydev.TierPro)
			token, _ := e.token(cookie)
			u := mustUser(t, e, "pro-nokey@example.com")
			if s := e.settings(cookie); !s.EphemeralMode || s.StrictEphemeral || s.EphemeralRequiresBYOK {
				t.Fatalf("pro settings = %+v, want ephemeral on, not strict", s)
			}
			waived := "off; reason=platform-key"
			sid := polydev.NewID()
			for _, stream := range []bool{false, true} {
				r := e.want(e.do("POST", "/api/chat/completions", map[string]any{
					"provider": "openai", "model": "gpt-4o-mini", "sessionId": sid, "stream": stream,
					"messages": []map[string]string{{"role": "user", "content": "hello"}},
				}, "Authorization", "Bearer "+token), http.StatusOK)
				if got := r.header.Get(EphemeralHeader); got != waived || !strings.Contains(string(r.body), "answer") {
					t.Fatalf("chat stream=%v: %s = %q: %s", stream, EphemeralHeader, got, r.body)
				}
			}
			for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
				r := e.want(e.do("POST", path, `{"model":"openai/gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
					"Authorization", "Bearer "+token), http.StatusOK)
				if got := r.header.Get(EphemeralHeader); got != waived {
					t.Fatalf("%s: %s = %q", path, EphemeralHeader, got)
				}
			}
			if n := platform.RequestCount(); n != 4 {
				t.Fatalf("platform upstream saw %d requests, want 4", n)
			}
			// Stored as a conversation (the non-ephemeral path), with no ephemeral metadata row.
			var got struct {
				Session  conversations.Summary
				Messages []conversations.Message
			}
			e.want(e.do("GET", "/api/chat/sessions/"+sid, nil, "Cookie", cookie), http.StatusOK).json(t, &got)
			if len(got.Messages) != 4 || got.Messages[1].Content != "platform answer" || got.Session.Model != "openai/gpt-4o-mini" {
				t.Fatalf("stored conversation = %+v", got)
			}
			if _, err := e.store.EphemeralConversationFor(t.Context(), u.ID, sid); polydev.ErrorCode(err) != polydev.ENOTFOUND {
				t.Fatalf("ephemeral metadata written for a platform-key turn: %v", err)
			}
			recs := e.usageOf(u)
			if len(recs) != 4 || !recs[0].PlatformKey {
				t.Fatalf("usage records = %+v", recs)
			}

			// Strict ephemeral: refused, with what to do, and no upstream call.
			var s settingsJSON
			e.want(e.do("PUT", "/api/security/settings", `{"strictEphemeral":true}`, "Cookie", cookie), http.StatusOK).json(t, &s)
			if !s.StrictEphemeral || !s.EphemeralRequiresBYOK || !e.settings(cookie).StrictEphemeral {
				t.Fatalf("settings after strict = %+v", s)
			}
			for _, path := range []string{"/v1/chat/completions", "/api/chat/completions"} {
				r := e.want(e.do("POST", path, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
					"Authorization", "Bearer "+token), http.StatusForbidden)
				var body struct {
					Error struct{ Message, Type string }
				}
				r.json(t, &body)
				msg := body.Error.Message
				if body.Error.Type != "permission_error" {
					t.Fatalf("%s: refusal type %q", path, body.Error.Type)
				}
				if !strings.Contains(msg, "add a openai key") || !strings.Contains(msg, "strict ephemeral") || r.header.Get("X-Should-Retry") != "false" {
					t.Fatalf("%s: refusal %q does not say what to do", path, msg)
				}
			}
			if n := platform.RequestCount(); n != 4 {
				t.Fatalf("a strict refusal reached the upstream (%d requests)", n)
			}
			// Strict with a key of their own: served, ephemeral.
			own := testkit.NewOpenAI(t)
			e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": own.Key, "baseUrl": own.BaseURL()}, "Cookie", cookie), http.StatusCreated)
			r := e.want(e.do("POST", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
				"Authorization", "Bearer "+token), http.StatusOK)
			if r.header.Get(EphemeralHeader) != "on" || own.RequestCount() != 1 {
				t.Fatalf("own key: %s = %q, own upstream saw %d", EphemeralHeader, r.header.Get(EphemeralHeader), own.RequestCount())
			}
		})
	}
}
