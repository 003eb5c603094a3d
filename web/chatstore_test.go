package web

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/internal/pgtest"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/netguard"
)

// rawEnv is a gateway env (keys may point at loopback fakes) whose database can be read raw: every
// file of the SQLite directory (database, WAL, shared memory), or a PostgreSQL dump.
func rawEnv(t *testing.T, engine string) (*env, func() string) {
	t.Helper()
	var e *env
	var raw func() string
	if engine == "sqlite" {
		dir := t.TempDir()
		e = newEnvAt(t, engine, filepath.Join(dir, "polydev.db"), Config{})
		raw = func() string {
			var b strings.Builder
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range entries {
				data, err := os.ReadFile(filepath.Join(dir, en.Name()))
				if err != nil {
					t.Fatal(err)
				}
				b.Write(data)
			}
			if !strings.Contains(b.String(), "usage_records") {
				t.Fatal("raw SQLite bytes lack the schema")
			}
			return b.String()
		}
	} else {
		url := pgtest.URL(t)
		e = newEnvAt(t, engine, url, Config{})
		raw = func() string {
			d := string(pgDump(t, url))
			if !strings.Contains(d, "usage_records") {
				t.Fatal("dump lacks the usage_records table")
			}
			return d
		}
	}
	guard, err := netguard.ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	e.srv.keys.Guard = guard
	return e, raw
}

// byokChatUser makes a user of tier with an API token and a BYOK OpenAI key pointing at up.
func (e *env) byokChatUser(email string, tier polydev.Tier, up *testkit.Upstream) (cookie, token string, u *polydev.User) {
	e.t.Helper()
	cookie = e.userWithTier(email, tier)
	e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": up.Key, "baseUrl": up.BaseURL()}, "Cookie", cookie), http.StatusCreated)
	token, _ = e.token(cookie)
	return cookie, token, mustUser(e.t, e, email)
}

// chat posts to /api/chat/completions and checks the answer carries want.
func (e *env) chat(token, sessionID, prompt string, stream bool, want string) {
	e.t.Helper()
	r := e.want(e.do("POST", "/api/chat/completions", map[string]any{
		"provider": "openai", "model": "gpt-4o-mini", "sessionId": sessionID, "stream": stream,
		"messages": []map[string]string{{"role": "system", "content": "be brief"}, {"role": "user", "content": prompt}},
	}, "Authorization", "Bearer "+token), http.StatusOK)
	if !strings.Contains(string(r.body), want) {
		e.t.Fatalf("answer lacks %q: %s", want, r.body)
	}
	if got := r.header.Get("X-Polydev-Session-Id"); got != strings.ToLower(sessionID) {
		e.t.Fatalf("X-Polydev-Session-Id = %q, want %q", got, sessionID)
	}
}

func newCanary() string { return "cnry" + strings.ReplaceAll(polydev.NewID(), "-", "") }

// TestEphemeralCanary: in ephemeral mode a canary in the prompt and in the upstream's reply reaches
// the client but never the database (file, WAL or dump) nor the logs; only the session's metadata
// row is kept, with the right token counts.
func TestEphemeralCanary(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e, raw := rawEnv(t, engine)
			inPrompt, inReply := newCanary(), newCanary()
			script := testkit.Script{Text: "Sure: " + inReply + " is noted.", Usage: testkit.Usage{PromptTokens: 31, CompletionTokens: 17}}
			up := testkit.NewOpenAI(t, testkit.WithScript(script))
			c, token, u := e.byokChatUser("eph@example.com", polydev.TierPro, up)
			if s := e.settings(c); !s.EphemeralMode || !s.BYOKConfigured {
				t.Fatalf("pro user with a key: settings = %+v, want ephemeral on (the tier's default) and BYOK configured", s)
			}
			sid := polydev.NewID()
			e.chat(token, sid, "remember "+inPrompt, false, inReply)
			e.chat(token, sid, "and again "+inPrompt, true, inReply)
			if n := up.RequestCount(); n != 2 {
				t.Fatalf("upstream saw %d requests, want 2", n)
			}
			for _, rq := range up.Requests() {
				if !strings.Contains(string(rq.Body), inPrompt) {
					t.Fatal("the prompt did not reach the upstream")
				}
			}

			recs := e.usageOf(u) // flushes the accounting writer
			if len(recs) != 2 || recs[0].SessionID != sid {
				t.Fatalf("usage records = %+v", recs)
			}
			meta, err := e.store.EphemeralConversationFor(t.Context(), u.ID, sid)
			if err != nil {
				t.Fatalf("no ephemeral metadata row: %v", err)
			}
			if meta.TotalTokens != 2*int64(script.Usage.Total()) || meta.MessageCount != 4 || meta.Model != "openai/gpt-4o-mini" ||
				meta.Provider != polydev.ProviderOpenAI || meta.TotalCost != recs[0].Cost+recs[1].Cost || meta.TotalCost <= 0 {
				t.Fatalf("ephemeral metadata = %+v (records cost %v + %v)", meta, recs[0].Cost, recs[1].Cost)
			}

			// Nothing of the content is stored, and the UI cannot store it either.
			e.want(e.do("GET", "/api/chat/sessions/"+sid, nil, "Cookie", c), http.StatusNotFound)
			var list struct{ Sessions []conversations.Summary }
			e.want(e.do("GET", "/api/chat/sessions", nil, "Cookie", c), http.StatusOK).json(t, &list)
			if len(list.Sessions) != 0 {
				t.Fatalf("sessions stored in ephemeral mode: %+v", list.Sessions)
			}
			e.want(e.do("POST", "/api/chat/sessions/"+sid+"/messages", map[string]string{"role": "user", "content": inPrompt}, "Cookie", c), http.StatusForbidden)

			db := raw()
			for _, canary := range []string{inPrompt, inReply} {
				if strings.Contains(db, canary) {
					t.Fatalf("canary %s found in the raw database", canary)
				}
				if strings.Contains(e.logs.String(), canary) {
					t.Fatalf("canary %s found in the logs", canary)
				}
			}
			if !strings.Contains(db, sid) {
				t.Fatal("the session's metadata is not in the raw database: the search looked in the wrong place")
			}
		})
	}
}

// TestConversationCanary: outside ephemeral mode the turn is stored, sealed: the canary is absent
// from the raw database and the logs, yet its owner reads it back through the API, and no one else can.
func TestConversationCanary(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e, raw := rawEnv(t, engine)
			inPrompt, inReply := newCanary(), newCanary()
			reply := "Sure: " + inReply + " is noted."
			up := testkit.NewOpenAI(t, testkit.WithScript(testkit.Script{Text: reply, Usage: testkit.Usage{PromptTokens: 12, CompletionTokens: 6}}))
			c, token, u := e.byokChatUser("owner@example.com", polydev.TierPlus, up)
			if e.settings(c).EphemeralMode {
				t.Fatal("plus user in ephemeral mode by default")
			}
			sid := polydev.NewID()
			first, second := "remember "+inPrompt+"\nplease", "and again "+inPrompt
			e.chat(token, strings.ToUpper(sid), first, false, inReply) // any case names the same conversation
			e.chat(token, sid, second, true, inReply)

			var got struct {
				Session  conversations.Summary
				Messages []conversations.Message
				HasMore  bool
			}
			e.want(e.do("GET", "/api/chat/sessions/"+sid, nil, "Cookie", c), http.StatusOK).json(t, &got)
			want := []conversations.Message{{Role: "user", Content: first}, {Role: "assistant", Content: reply},
				{Role: "user", Content: second}, {Role: "assistant", Content: reply}}
			if len(got.Messages) != len(want) || got.HasMore {
				t.Fatalf("messages = %+v", got.Messages)
			}
			for i, m := range got.Messages {
				if m.Role != want[i].Role || m.Content != want[i].Content || m.Seq != int64(i) {
					t.Fatalf("message %d = %+v, want %+v", i, m, want[i])
				}
			}
			if s := got.Session; s.ID != sid || s.Title != "remember "+inPrompt || s.MessageCount != 4 || s.Model != "openai/gpt-4o-mini" || s.Provider != "openai" {
				t.Fatalf("session = %+v", s)
			}
			if _, err := e.store.EphemeralConversationFor(t.Context(), u.ID, sid); polydev.ErrorCode(err) != polydev.ENOTFOUND {
				t.Fatalf("ephemeral metadata written outside ephemeral mode: %v", err)
			}

			db := raw()
			for _, canary := range []string{inPrompt, inReply} {
				if strings.Contains(db, canary) {
					t.Fatalf("canary %s found in the raw database: content is not encrypted", canary)
				}
				if strings.Contains(e.logs.String(), canary) {
					t.Fatalf("canary %s found in the logs", canary)
				}
			}

			// Another user gets 404 everywhere, and cannot write into the conversation through the gateway either.
			oc, otoken, _ := e.byokChatUser("other@example.com", polydev.TierPlus, up)
			for _, rq := range []struct{ method, path string }{
				{"GET", "/api/chat/sessions/" + sid}, {"GET", "/api/chat/sessions/" + sid + "/messages"}, {"DELETE", "/api/chat/sessions/" + sid},
			} {
				e.want(e.do(rq.method, rq.path, nil, "Cookie", oc), http.StatusNotFound).errorBody(t)
			}
			e.want(e.do("POST", "/api/chat/sessions/"+sid+"/messages", map[string]string{"role": "user", "content": "hijack"}, "Cookie", oc), http.StatusNotFound)
			e.chat(otoken, sid, "hijack attempt", false, inReply)
			var olist struct{ Sessions []conversations.Summary }
			e.want(e.do("GET", "/api/chat/sessions", nil, "Cookie", oc), http.StatusOK).json(t, &olist)
			if len(olist.Sessions) != 0 {
				t.Fatalf("other user lists %+v", olist.Sessions)
			}
			var list struct{ Sessions []conversations.Summary }
			e.want(e.do("GET", "/api/chat/sessions", nil, "Cookie", c), http.StatusOK).json(t, &list)
			if len(list.Sessions) != 1 || list.Sessions[0].MessageCount != 4 || list.Sessions[0].Title != got.Session.Title {
				t.Fatalf("owner's sessions after the attempts = %+v", list.Sessions)
			}

			e.want(e.do("DELETE", "/api/chat/sessions/"+sid, nil, "Cookie", c), http.StatusNoContent)
			e.want(e.do("GET", "/api/chat/sessions/"+sid, nil, "Cookie", c), http.StatusNotFound)
			if m, err := e.store.ListMessages(t.Context(), u.ID, sid, -1, 100); err != nil || len(m) != 0 {
				t.Fatalf("messages survive the deletion: %d, %v", len(m), err)
			}
		})
	}
}

// TestSessionMessagesAPI: the UI stores messages itself; paging and validation.
func TestSessionMessagesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	c := e.userWithTier("ui@example.com", polydev.TierPlus)
	sid := polydev.NewID()
	path := "/api/chat/sessions/" + sid + "/messages"
	for i, m := range []map[string]string{
		{"role": "system", "content": "be brief"}, {"role": "user", "content": "héllo\nworld"},
		{"role": "assistant", "content": "hi"}, {"role": "user", "content": "bye"},
	} {
		var out struct{ Message conversations.Message }
		e.want(e.do("POST", path, m, "Cookie", c), http.StatusCreated).json(t, &out)
		if out.Message.Seq != int64(i) || out.Message.Content != m["content"] || out.Message.ID == "" {
			t.Fatalf("stored message %d = %+v", i, out.Message)
		}
	}
	var sess struct{ Session conversations.Summary }
	e.want(e.do("GET", "/api/chat/sessions/"+sid, nil, "Cookie", c), http.StatusOK).json(t, &sess)
	if sess.Session.Title != "" || sess.Session.MessageCount != 4 || sess.Session.Provider != "" {
		// The conversation was created by its system message: no user text to title it yet.
		t.Fatalf("session = %+v", sess.Session)
	}
	var page struct{ Messages []conversations.Message }
	e.want(e.do("GET", path+"?after=1&limit=2", nil, "Cookie", c), http.StatusOK).json(t, &page)
	if len(page.Messages) != 2 || page.Messages[0].Seq != 2 || page.Messages[1].Content != "bye" {
		t.Fatalf("page = %+v", page.Messages)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?after=-2", "?after=1&after=2"} {
		e.want(e.do("GET", path+q, nil, "Cookie", c), http.StatusBadRequest).errorBody(t)
	}
	for _, body := range []string{`{"role":"tool","content":"x"}`, `{"role":"user","content":""}`, `{"role":"user"}`,
		`{"role":"user","content":"x","extra":1}`, `{"role":"user","content":7}`} {
		e.want(e.do("POST", path, body, "Cookie", c), http.StatusBadRequest).errorBody(t)
	}
	for _, bad := range []string{"abc", "' OR 1=1 --", strings.Repeat("a", 36)} {
		e.want(e.do("GET", "/api/chat/sessions/"+strings.ReplaceAll(bad, " ", "%20"), nil, "Cookie", c), http.StatusNotFound).errorBody(t)
	}
	e.want(e.do("GET", "/api/chat/sessions?limit=201", nil, "Cookie", c), http.StatusBadRequest)
	e.want(e.do("GET", "/api/chat/sessions", nil), http.StatusUnauthorized)
	if got := conversations.MakeTitle("  " + strings.Repeat("é", 100) + "\nsecond line"); len([]rune(got)) != conversations.MaxTitleRunes {
		t.Fatalf("title = %q", got)
	}
}
