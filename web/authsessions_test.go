package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/authsession"
	"github.com/polydev/polydev/vault"
)

// authEnv is the API with login sessions on: a fake controller whose VMs each run a fake agent, a
// fake websockify for the viewer, a fake egress proxy, and the real authsession.Service.
type authEnv struct {
	*env
	ctl     *sessionController
	egress  *fakeEgress
	svc     *authsession.Service
	guest   *fakeWebsockify
	dataDir string // the SQLite database's directory ("" on PostgreSQL)

	cookie, otherCookie string
	owner, other        *polydev.User
}

func newAuthEnv(t *testing.T, engine string) *authEnv {
	t.Helper()
	var e *env
	var dir string
	if engine == "sqlite" {
		dir = t.TempDir()
		e = newEnvAt(t, engine, filepath.Join(dir, "polydev.db"), Config{NoVNCDir: newNoVNCDir(t)})
	} else {
		e = newEnv(t, engine, Config{NoVNCDir: newNoVNCDir(t)})
	}
	guest := newFakeWebsockify(t)
	ctl := &sessionController{t: t, store: e.store, novnc: guest.ts.Listener.Addr().String(), agents: map[string]*fakeAgent{}}
	eg := &fakeEgress{opened: map[string]string{}, closed: map[string]bool{}}
	svc := authsession.New(authsession.Config{Store: e.store, VMs: ctl, Vault: e.srv.keys.Vault, Egress: eg, Log: e.srv.log,
		Now: e.clock.now, PollEvery: 5 * time.Millisecond})
	t.Cleanup(svc.Stop)
	e.srv.vms, e.srv.authSessions = ctl, svc
	a := &authEnv{env: e, ctl: ctl, egress: eg, svc: svc, guest: guest, dataDir: dir}
	a.cookie = e.signup("owner@example.com", pw)
	a.otherCookie = e.signup("other@example.com", pw)
	a.owner = e.setTier("owner@example.com", polydev.TierPro)
	a.other = e.setTier("other@example.com", polydev.TierPro)
	return a
}

type authSessionOut struct {
	SessionID    string                    `json:"sessionId"`
	ID           string                    `json:"id"`
	VMID         string                    `json:"vmId"`
	NoVNCURL     string                    `json:"novncUrl"`
	Status       polydev.AuthSessionStatus `json:"status"`
	Reason       string                    `json:"reason"`
	Provider     string                    `json:"provider"`
	TargetURL    string                    `json:"targetUrl"`
	VMReleasedAt *time.Time                `json:"vmReleasedAt"`
}

func (a *authEnv) create(t *testing.T, cookie string, body any) authSessionOut {
	t.Helper()
	var out authSessionOut
	a.want(a.do("POST", "/api/auth/session", body, "Cookie", cookie), http.StatusCreated).json(t, &out)
	return out
}

func (a *authEnv) get(t *testing.T, id string) authSessionOut {
	t.Helper()
	var out authSessionOut
	a.want(a.do("GET", "/api/auth/session/"+id, nil, "Cookie", a.cookie), http.StatusOK).json(t, &out)
	return out
}

// waitStatus polls the session as a client would until it reaches want (the runner works in the
// background); the bound only keeps a broken runner from hanging the test.
func (a *authEnv) waitStatus(t *testing.T, id string, want polydev.AuthSessionStatus) authSessionOut {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := a.get(t, id)
		if got.Status == want && (want.Active() || got.VMReleasedAt != nil || got.VMID == "") {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s is %s (%s), want %s with its VM released", id, got.Status, got.Reason, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func randomSecret(t *testing.T, prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// assertNowhere fails if secret appears in the server's log or in any file under the data directory
// (the SQLite database, its WAL and journal included).
func (a *authEnv) assertNowhere(t *testing.T, secret string) {
	t.Helper()
	if strings.Contains(a.logs.String(), secret) {
		t.Errorf("%.12s… appears in the log", secret)
	}
	if a.dataDir == "" {
		return
	}
	err := filepath.WalkDir(a.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%.12s… appears in %s", secret, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuthSessionCompletes(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			a := newAuthEnv(t, engine)
			s := a.create(t, a.cookie, map[string]string{"provider": "claude_code"})
			if s.SessionID == "" || s.SessionID != s.ID || s.VMID == "" || s.Status != polydev.AuthRunning || s.Provider != "claude_code" {
				t.Fatalf("created = %+v", s)
			}
			if !strings.HasPrefix(s.NoVNCURL, "/novnc/vnc.html#") || !strings.Contains(s.NoVNCURL, url.QueryEscape("api/auth/session/"+s.ID+"/novnc?ticket=pdv_")) {
				t.Fatalf("novncUrl = %q", s.NoVNCURL)
			}

			// The agent got a per-clone token first, then the login, with the token.
			ag := a.ctl.agent(s.VMID)
			token, calls, login, _ := ag.seen()
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(token) {
				t.Fatalf("token %q is not 32 random bytes in hex", token)
			}
			if len(calls) < 2 || calls[0] != "POST /token" || calls[1] != "POST /login" || login["provider"] != "claude_code" || len(login) != 1 {
				t.Fatalf("agent calls = %v, login = %v", calls, login)
			}
			if opened, closed := a.egress.state(s.VMID, s.ID); !opened || closed {
				t.Fatalf("egress opened %v closed %v, want opened for the session's VM", opened, closed)
			}
			if got := a.get(t, s.ID); got.Status != polydev.AuthRunning || got.NoVNCURL != "" {
				t.Fatalf("poll while running = %+v (a poll mints no ticket)", got)
			}

			secret := randomSecret(t, "sk-ant-oat01-")
			ag.complete(".claude/.credentials.json", []byte(`{"claudeAiOauth":{"accessToken":"`+secret+`"}}`))
			done := a.waitStatus(t, s.ID, polydev.AuthCompleted)
			if done.VMReleasedAt == nil || !a.ctl.wasDeleted(s.VMID) {
				t.Fatalf("completed session's VM not reaped: %+v", done)
			}
			if _, err := a.store.VMByID(t.Context(), a.owner.ID, s.VMID); polydev.ErrorCode(err) != polydev.ENOTFOUND {
				t.Fatalf("VM record after reaping: %v", err)
			}
			if _, closed := a.egress.state(s.VMID, s.ID); !closed {
				t.Fatal("egress not closed after completion")
			}

			// Stored sealed: the row holds an envelope, never the plaintext, and it opens only for
			// this user, session and provider.
			row, err := a.store.AuthSessionByID(t.Context(), a.owner.ID, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if row.Credential == nil || row.Credential.Name != ".claude/.credentials.json" || bytes.Contains(row.Credential.Sealed, []byte(secret)) {
				t.Fatalf("stored credential = %+v", row.Credential)
			}
			plain, name, err := a.svc.OpenCredential(t.Context(), a.owner, s.ID)
			if err != nil || !bytes.Contains(plain, []byte(secret)) || name != ".claude/.credentials.json" {
				t.Fatalf("OpenCredential = %q, %q, %v", plain, name, err)
			}
			for _, aad := range []vault.AAD{
				{Table: "auth_sessions", Column: "credential:codex_cli", RowID: s.ID},
				{Table: "auth_sessions", Column: "credential:claude_code", RowID: polydev.NewID()},
			} {
				if _, err := a.srv.keys.Vault.Open(t.Context(), a.owner.ID, aad, row.Credential.Sealed); err == nil {
					t.Fatalf("credential opened under %+v", aad)
				}
			}
			if _, err := a.srv.keys.Vault.Open(t.Context(), a.other.ID, vault.AAD{Table: "auth_sessions", Column: "credential:claude_code", RowID: s.ID}, row.Credential.Sealed); err == nil {
				t.Fatal("credential opened for another user")
			}
			if _, _, err := a.svc.OpenCredential(t.Context(), a.other, s.ID); polydev.ErrorCode(err) != polydev.ENOTFOUND {
				t.Fatalf("another user's OpenCredential: %v", err)
			}
			r := a.do("GET", "/api/auth/session/"+s.ID, nil, "Cookie", a.cookie)
			if bytes.Contains(r.body, []byte(secret)) || bytes.Contains(r.body, []byte("credential")) {
				t.Fatalf("the API shows the credential: %s", r.body)
			}
			a.assertNowhere(t, secret)
			a.assertNowhere(t, token)
		})
	}
}

func TestAuthSessionTargetURL(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	s := a.create(t, a.cookie, map[string]string{"targetUrl": "https://GitHub.com/login/oauth/authorize?client_id=abc&state=xyz"})
	want := "https://github.com/login/oauth/authorize?client_id=abc&state=xyz"
	if s.TargetURL != want || s.Provider != "" || s.Status != polydev.AuthRunning {
		t.Fatalf("created = %+v", s)
	}
	if _, _, login, _ := a.ctl.agent(s.VMID).seen(); login["targetUrl"] != want || len(login) != 1 {
		t.Fatalf("login = %v", login)
	}
	if opened, _ := a.egress.state(s.VMID, s.ID); !opened {
		t.Fatal("no egress opened for the target URL's session")
	}
}

func TestAuthSessionLoginFails(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	s := a.create(t, a.cookie, map[string]string{"provider": "gemini_cli"})
	a.ctl.agent(s.VMID).fail("gemini exited with status 1")
	got := a.waitStatus(t, s.ID, polydev.AuthFailed)
	if !strings.Contains(got.Reason, "gemini exited with status 1") || !a.ctl.wasDeleted(s.VMID) {
		t.Fatalf("failed session = %+v", got)
	}
	if row, _ := a.store.AuthSessionByID(t.Context(), a.owner.ID, s.ID); row.Credential != nil {
		t.Fatal("a failed session holds a credential")
	}
}

func TestAuthSessionCancel(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	s := a.create(t, a.cookie, map[string]string{"provider": "codex_cli"})
	var out authSessionOut
	a.want(a.do("DELETE", "/api/auth/session/"+s.ID, nil, "Cookie", a.cookie), http.StatusOK).json(t, &out)
	if out.Status != polydev.AuthCancelled || out.VMReleasedAt == nil || !a.ctl.wasDeleted(s.VMID) {
		t.Fatalf("cancelled = %+v", out)
	}
	if _, calls, _, _ := a.ctl.agent(s.VMID).seen(); calls[len(calls)-1] != "DELETE /login" {
		t.Fatalf("agent calls = %v, want the login cancelled last", calls)
	}
	if _, closed := a.egress.state(s.VMID, s.ID); !closed {
		t.Fatal("egress not closed after cancel")
	}
	e := a.want(a.do("DELETE", "/api/auth/session/"+s.ID, nil, "Cookie", a.cookie), http.StatusConflict).errorBody(t)
	if !strings.Contains(e.Message, "already cancelled") {
		t.Fatalf("second cancel: %+v", e)
	}
	// A completion arriving after the cancel changes nothing.
	a.ctl.agent(s.VMID).complete("auth.json", []byte(`{"tokens":{}}`))
	if got := a.get(t, s.ID); got.Status != polydev.AuthCancelled {
		t.Fatalf("after a late completion: %+v", got)
	}
}

func TestAuthSessionExpiry(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	s := a.create(t, a.cookie, map[string]string{"provider": "claude_code"})
	a.svc.Sweep(t.Context())
	if got := a.get(t, s.ID); got.Status != polydev.AuthRunning {
		t.Fatalf("swept before its expiry: %+v", got)
	}
	a.clock.set(polydev.AuthSessionTTL)
	a.svc.Sweep(t.Context())
	got := a.get(t, s.ID)
	if got.Status != polydev.AuthExpired || got.VMReleasedAt == nil || !a.ctl.wasDeleted(s.VMID) || !strings.Contains(got.Reason, "30m") {
		t.Fatalf("after expiry = %+v", got)
	}
	if _, closed := a.egress.state(s.VMID, s.ID); !closed {
		t.Fatal("egress not closed after expiry")
	}
}

// TestAuthSessionRecover: sessions a previous process left active end (failed) when the service
// starts, and their VMs are reaped; a final session whose VM was not released gets it reaped.
func TestAuthSessionRecover(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	now := time.Now().UTC()
	left := &polydev.AuthSession{ID: polydev.NewID(), UserID: a.owner.ID, Provider: polydev.CLICodex, Status: polydev.AuthPending,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(polydev.AuthSessionTTL)}
	vm, err := a.ctl.Create(t.Context(), a.owner, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateAuthSession(t.Context(), left); err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetAuthSessionVM(t.Context(), left.ID, vm.ID, now); err != nil {
		t.Fatal(err)
	}
	a.svc.Start(t.Context())
	got := a.get(t, left.ID)
	if got.Status != polydev.AuthFailed || !strings.Contains(got.Reason, "restarted") || got.VMReleasedAt == nil || !a.ctl.wasDeleted(vm.ID) {
		t.Fatalf("left-over session = %+v", got)
	}
}

func TestAuthSessionAutofill(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	s := a.create(t, a.cookie, map[string]string{"provider": "claude_code"})
	password := randomSecret(t, "pw-")
	a.want(a.do("POST", "/api/auth/session/"+s.ID+"/credentials", map[string]string{"username": "me@example.com", "password": password},
		"Cookie", a.cookie), http.StatusNoContent)
	_, _, _, fills := a.ctl.agent(s.VMID).seen()
	if len(fills) != 1 || fills[0].Username != "me@example.com" || fills[0].Password != password || fills[0].TargetURL != "https://claude.ai" {
		t.Fatalf("autofills = %+v", fills)
	}
	// The page in the VM is elsewhere: the agent refuses and so do we, clearly.
	e := a.want(a.do("POST", "/api/auth/session/"+s.ID+"/credentials", map[string]string{"username": "me", "password": password,
		"targetUrl": "https://console.anthropic.com/login"}, "Cookie", a.cookie), http.StatusConflict).errorBody(t)
	if !strings.Contains(e.Message, "https://console.anthropic.com") {
		t.Fatalf("origin mismatch: %+v", e)
	}
	for _, body := range []map[string]string{
		{"username": "me", "password": ""},
		{"username": "", "password": password},
		{"username": "me", "password": password, "targetUrl": "https://evil.example/login"},
		{"username": "me", "password": password, "targetUrl": "http://claude.ai/login"},
		{"username": strings.Repeat("u", 1025), "password": password},
	} {
		e := a.want(a.do("POST", "/api/auth/session/"+s.ID+"/credentials", body, "Cookie", a.cookie), http.StatusBadRequest).errorBody(t)
		if e.Type == "" || e.Code == "" || e.Message == "" || strings.Contains(e.Message, password) {
			t.Fatalf("refusal of %v: %+v", body["targetUrl"], e)
		}
	}
	if _, _, _, fills := a.ctl.agent(s.VMID).seen(); len(fills) != 1 {
		t.Fatalf("refused autofills reached the agent: %d", len(fills))
	}
	a.assertNowhere(t, password)
}

func TestAuthSessionBadInput(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			a := newAuthEnv(t, engine)
			for _, tc := range []struct{ name, body, want string }{
				{"empty", `{}`, "provider"},
				{"unknown provider", `{"provider":"github"}`, "provider must be one of"},
				{"both", `{"provider":"claude_code","targetUrl":"https://github.com/"}`, "not both"},
				{"http", `{"targetUrl":"http://github.com/login"}`, "https"},
				{"credentials in URL", `{"targetUrl":"https://user:secret@github.com/"}`, "user name or password"},
				{"no host", `{"targetUrl":"https:///login"}`, "host"},
				{"javascript", `{"targetUrl":"javascript:alert(1)"}`, "https"},
				{"relative", `{"targetUrl":"/login"}`, "https"},
				{"spaces", `{"targetUrl":"https://github.com/a b"}`, "spaces"},
				{"too long", `{"targetUrl":"https://github.com/` + strings.Repeat("a", 2100) + `"}`, "2048"},
				{"unknown field", `{"provider":"claude_code","credentials":{"username":"u","password":"p"}}`, "credentials"},
				{"not JSON", `provider=claude_code`, ""},
				{"wrong type", `{"provider":1}`, ""},
			} {
				r := a.want(a.do("POST", "/api/auth/session", tc.body, "Cookie", a.cookie), http.StatusBadRequest)
				e := r.errorBody(t)
				if e.Type == "" || e.Code == "" || !strings.Contains(e.Message, tc.want) {
					t.Errorf("%s: error %+v, want a message naming %q", tc.name, e, tc.want)
				}
			}
			if list, _ := a.store.ListAuthSessions(t.Context(), a.owner.ID, 10); len(list) != 0 || a.ctl.creates() != 0 {
				t.Fatalf("bad input changed something: %d sessions, %d VMs", len(list), a.ctl.creates())
			}

			// A tier without VMs is refused before anything is made, and so is VM support off.
			free := a.signup("free@example.com", pw)
			e := a.want(a.do("POST", "/api/auth/session", `{"provider":"claude_code"}`, "Cookie", free), http.StatusForbidden).errorBody(t)
			if !strings.Contains(e.Message, "free tier") {
				t.Fatalf("free tier: %+v", e)
			}
			if a.ctl.creates() != 0 {
				t.Fatal("a refused session made a VM")
			}
		})
	}
}

func TestAuthSessionVMOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	cookie := e.signup("pro@example.com", pw)
	e.setTier("pro@example.com", polydev.TierPro)
	e.want(e.do("POST", "/api/auth/session", `{"provider":"claude_code"}`, "Cookie", cookie), http.StatusServiceUnavailable)
	e.want(e.do("POST", "/api/auth/session", `{"provider":"nope"}`, "Cookie", cookie), http.StatusBadRequest)
	e.want(e.do("GET", "/api/auth/session/"+polydev.NewID(), nil, "Cookie", cookie), http.StatusNotFound)
	var list struct{ Sessions []any }
	e.want(e.do("GET", "/api/auth/sessions", nil, "Cookie", cookie), http.StatusOK).json(t, &list)
	if list.Sessions == nil || len(list.Sessions) != 0 {
		t.Fatalf("sessions = %#v", list.Sessions)
	}
}

// TestAuthSessionAuthorization: another user's session id is a 404 on every route, a made-up id
// too; the viewer takes the owner's single-use ticket once, with the Origin checked, and another
// user's ticket is a 404.
func TestAuthSessionAuthorization(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	s := a.create(t, a.cookie, map[string]string{"provider": "claude_code"})
	theirs := a.create(t, a.otherCookie, map[string]string{"provider": "codex_cli"})

	for _, id := range []string{s.ID, polydev.NewID(), "not-an-id"} {
		for _, rt := range []struct{ method, path string }{
			{"GET", ""}, {"DELETE", ""}, {"POST", "/credentials"}, {"POST", "/vnc-ticket"},
		} {
			var body any
			if rt.path == "/credentials" {
				body = map[string]string{"username": "u", "password": "p"}
			}
			r := a.do(rt.method, "/api/auth/session/"+id+rt.path, body, "Cookie", a.otherCookie)
			if r.status != http.StatusNotFound || a.want(r, http.StatusNotFound).errorBody(t).Code != "not_found" {
				t.Errorf("%s %s as another user: %d %s", rt.method, rt.path, r.status, r.body)
			}
		}
	}
	if got := a.get(t, s.ID); got.Status != polydev.AuthRunning {
		t.Fatalf("another user's requests changed the session: %+v", got)
	}

	wsURL := func(id, ticket string) string {
		return "ws" + strings.TrimPrefix(a.ts.URL, "http") + "/api/auth/session/" + id + "/novnc?" + url.Values{"ticket": {ticket}}.Encode()
	}
	ticket := func(cookie, id string) string {
		var tk vncTicketResponse
		a.want(a.do("POST", "/api/auth/session/"+id+"/vnc-ticket", nil, "Cookie", cookie), http.StatusOK).json(t, &tk)
		if tk.Path != "/api/auth/session/"+id+"/novnc?ticket="+tk.Ticket {
			t.Fatalf("ticket path = %q", tk.Path)
		}
		return tk.Ticket
	}
	dial := func(cookie, originHdr, u string) (*websocket.Conn, int) {
		c, res, err := websocket.Dial(t.Context(), u, &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {cookie}, "Origin": {originHdr}}})
		if err != nil {
			if res == nil {
				t.Fatalf("dial: %v", err)
			}
			return nil, res.StatusCode
		}
		return c, http.StatusSwitchingProtocols
	}

	// The owner's ticket works once.
	tk := ticket(a.cookie, s.ID)
	c, status := dial(a.cookie, a.ts.URL, wsURL(s.ID, tk))
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("owner's viewer: %d", status)
	}
	_, greeting, err := c.Read(t.Context())
	if err != nil || string(greeting) != "RFB 003.008\n" {
		t.Fatalf("greeting %q, %v", greeting, err)
	}
	c.CloseNow()
	if _, status := dial(a.cookie, a.ts.URL, wsURL(s.ID, tk)); status != http.StatusForbidden {
		t.Fatalf("a ticket's second use: %d, want 403", status)
	}
	// Another user's ticket, on the owner's session, is a 404; the other user on the owner's
	// session too.
	if _, status := dial(a.cookie, a.ts.URL, wsURL(s.ID, ticket(a.otherCookie, theirs.ID))); status != http.StatusNotFound {
		t.Fatalf("another user's ticket: %d, want 404", status)
	}
	if _, status := dial(a.otherCookie, a.ts.URL, wsURL(s.ID, ticket(a.cookie, s.ID))); status != http.StatusNotFound {
		t.Fatalf("another user on the session: %d, want 404", status)
	}
	// A cross-site page cannot open it with the owner's cookie, even with a ticket.
	if _, status := dial(a.cookie, "https://evil.example", wsURL(s.ID, ticket(a.cookie, s.ID))); status != http.StatusForbidden {
		t.Fatalf("cross-origin viewer: %d, want 403", status)
	}
	// The session's viewer is gone once the session ends.
	stale := ticket(a.cookie, s.ID)
	a.want(a.do("DELETE", "/api/auth/session/"+s.ID, nil, "Cookie", a.cookie), http.StatusOK)
	if _, status := dial(a.cookie, a.ts.URL, wsURL(s.ID, stale)); status != http.StatusConflict {
		t.Fatalf("viewer of an ended session: %d, want 409", status)
	}
}

// TestAuthSessionViewerIdle: a viewer that carries nothing for the idle timeout is closed.
func TestAuthSessionViewerIdle(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	a.srv.vnc.idle = time.Second // short, yet long enough for the handshake on a loaded machine
	s := a.create(t, a.cookie, map[string]string{"provider": "claude_code"})
	var tk vncTicketResponse
	a.want(a.do("POST", "/api/auth/session/"+s.ID+"/vnc-ticket", nil, "Cookie", a.cookie), http.StatusOK).json(t, &tk)
	c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(a.ts.URL, "http")+tk.Path,
		&websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {a.cookie}, "Origin": {a.ts.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(t.Context()); err != nil { // the greeting
		t.Fatal(err)
	}
	// Nothing more comes; the read ends when the proxy closes the idle connection (the test's own
	// deadline is the only other way out).
	if _, _, err := c.Read(t.Context()); err == nil {
		t.Fatal("an idle viewer stayed open")
	}
}

func TestAuthSessionLimit(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	first := a.create(t, a.cookie, map[string]string{"provider": "claude_code"})
	a.create(t, a.cookie, map[string]string{"provider": "codex_cli"})
	e := a.want(a.do("POST", "/api/auth/session", `{"provider":"gemini_cli"}`, "Cookie", a.cookie), http.StatusConflict).errorBody(t)
	if !strings.Contains(e.Message, "2 login sessions") {
		t.Fatalf("third session: %+v", e)
	}
	a.want(a.do("DELETE", "/api/auth/session/"+first.ID, nil, "Cookie", a.cookie), http.StatusOK)
	a.create(t, a.cookie, map[string]string{"provider": "gemini_cli"})
	var list struct{ Sessions []authSessionOut }
	a.want(a.do("GET", "/api/auth/sessions", nil, "Cookie", a.cookie), http.StatusOK).json(t, &list)
	if len(list.Sessions) != 3 || list.Sessions[2].ID != first.ID || list.Sessions[2].Status != polydev.AuthCancelled {
		t.Fatalf("sessions = %+v", list.Sessions)
	}
}

// TestAuthSessionVMFailure: a VM that cannot be had fails the session with the controller's
// answer, and leaves nothing running.
func TestAuthSessionVMFailure(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	a.ctl.mu.Lock()
	a.ctl.createErr = polydev.Errorf(polydev.EFORBIDDEN, "the pro tier allows at most 2 VMs; delete one first")
	a.ctl.mu.Unlock()
	e := a.want(a.do("POST", "/api/auth/session", `{"provider":"claude_code"}`, "Cookie", a.cookie), http.StatusForbidden).errorBody(t)
	if !strings.Contains(e.Message, "at most 2 VMs") {
		t.Fatalf("error = %+v", e)
	}
	list, _ := a.store.ListAuthSessions(t.Context(), a.owner.ID, 10)
	if len(list) != 1 || list[0].Status != polydev.AuthFailed || !strings.Contains(list[0].Reason, "at most 2 VMs") {
		t.Fatalf("sessions = %+v", list)
	}
}

// TestAuthSessionAdminStats: the admin stats count sessions and running VMs in the seed's shape
// and list the sessions' and VMs' latest changes as events.
func TestAuthSessionAdminStats(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t, "sqlite")
	admin := a.signup("admin@example.com", pw)
	a.makeAdmin("admin@example.com")
	done := a.create(t, a.cookie, map[string]string{"provider": "codex_cli"})
	a.ctl.agent(done.VMID).complete(".codex/auth.json", []byte(`{"tokens":{"access_token":"x"}}`))
	a.waitStatus(t, done.ID, polydev.AuthCompleted)
	running := a.create(t, a.cookie, map[string]string{"targetUrl": "https://github.com/login/oauth/authorize?client_id=1&state=s3cr3t"})
	a.insertVM(a.other.ID, polydev.VMCLI)
	stopped := a.insertVM(a.other.ID, polydev.VMCLI)
	if err := a.store.SetVMState(t.Context(), stopped.ID, polydev.VMRunning, polydev.VMStopped, time.Now()); err != nil {
		t.Fatal(err)
	}

	var out struct {
		Stats        map[string]any
		VMs          map[string]int `json:"vms"`
		AuthSessions map[string]int
		Events       []systemEventJSON
	}
	r := a.want(a.do("GET", "/api/admin/stats", nil, "Cookie", admin), http.StatusOK)
	r.json(t, &out)
	if want := map[string]int{"total": 3, "running": 2, "stopped": 1, "cli": 1, "browser": 1}; !maps.Equal(out.VMs, want) {
		t.Fatalf("vms = %v, want %v", out.VMs, want)
	}
	if want := map[string]int{"active": 1, "completed": 1, "total": 2}; !maps.Equal(out.AuthSessions, want) {
		t.Fatalf("authSessions = %v, want %v", out.AuthSessions, want)
	}
	if out.Stats["cli_vms"] != 1.0 || out.Stats["browser_vms"] != 1.0 || out.Stats["active_vms"] != 2.0 || out.Stats["total_vms"] != 3.0 {
		t.Fatalf("stats = %v", out.Stats)
	}
	seen := map[string]string{}
	for _, e := range out.Events {
		seen[e.ID] = e.Event + " " + e.Detail
	}
	if seen[done.ID] != "completed codex_cli" || seen[running.ID] != "running github.com" || seen[stopped.ID] != "stopped cli" {
		t.Fatalf("events = %+v", out.Events)
	}
	if bytes.Contains(r.body, []byte("s3cr3t")) {
		t.Fatal("an event shows the target URL's parameters")
	}
}
