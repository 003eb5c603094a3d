package web

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/providerkeys"
)

// mapDNS answers names from a fixed table: tests decide what a name resolves to, and when.
type mapDNS map[string]string

func (m mapDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if a, ok := m[host]; ok {
		return []net.IPAddr{{IP: net.ParseIP(a)}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.53.53.53:53", IsNotFound: true}
}

// countingListener accepts connections on loopback and counts them, answering nothing.
func countingListener(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, accepted
}

// guardedUpstreams sets the server up as serve does: the operator allows loopback, the keys
// service checks URLs with saveDNS when they are saved, and the router's two clients (the
// operator's, and the public-only one for users' own keys) resolve with dialDNS. Nobody's own
// keys may use the allow list until the test says so, and private hosts' error text is hidden.
func guardedUpstreams(t *testing.T, e *env, saveDNS, dialDNS mapDNS) {
	t.Helper()
	allow, err := netguard.ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	self := &netguard.Self{}
	self.Set(e.ts.Listener.Addr())
	e.srv.keys.Guard = allow.WithResolver(saveDNS).WithSelf(self)
	e.srv.keys.Private = nil
	dial := allow.WithResolver(dialDNS).WithSelf(self)
	e.srv.router.Client = dial.Client(nil)
	e.srv.router.UserClient = dial.PublicOnly().Client(nil)
	e.srv.router.ShowPrivateErrors = false
}

const guardChat = `{"model":"openai/gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`

// TestUserKeysDialGuarded: a user's own key reaches a private host only while the operator lets
// that user use private upstreams; otherwise the connection is refused when it is dialed, also for
// a name that resolved to a public address when the key was saved and to loopback now (DNS
// rebinding). Platform keys keep the operator's allow list.
func TestUserKeysDialGuarded(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := testkit.NewOpenAI(t, testkit.WithScript(testkit.Script{Text: "from the local model", Usage: testkit.Usage{PromptTokens: 3, CompletionTokens: 4}}))
	_, upPort, _ := net.SplitHostPort(strings.TrimPrefix(up.URL, "http://"))
	trap, trapped := countingListener(t)
	guardedUpstreams(t, e,
		mapDNS{"models.internal.test": "127.0.0.1", "api.example.com": "93.184.215.14"},
		mapDNS{"models.internal.test": "127.0.0.1", "api.example.com": "127.0.0.1"})
	plus, err := providerkeys.ParsePrivateAccess("plus")
	if err != nil {
		t.Fatal(err)
	}

	// A plus user the operator lets use private upstreams: the key to a name resolving to loopback
	// is saved and works.
	e.srv.keys.Private = plus
	cookie := e.userWithTier("local@example.com", polydev.TierPlus)
	e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": up.Key, "baseUrl": "http://models.internal.test:" + upPort + "/v1"}, "Cookie", cookie), http.StatusCreated)
	token, _ := e.token(cookie)
	r := e.want(e.do("POST", "/v1/chat/completions", guardChat, "Authorization", "Bearer "+token), http.StatusOK)
	if !strings.Contains(string(r.body), "from the local model") || up.RequestCount() != 1 {
		t.Fatalf("allowed user's private key: %s (upstream saw %d requests)", r.body, up.RequestCount())
	}

	// The operator withdraws it: the saved key is refused when dialed, and the connection the
	// operator's client keeps open to that host is not reused for it.
	e.srv.keys.Private = nil
	r = e.want(e.do("POST", "/v1/chat/completions", guardChat, "Authorization", "Bearer "+token), http.StatusBadGateway)
	msg := openaiErrorOf(t, r).Message
	if up.RequestCount() != 1 || strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "internal.test") {
		t.Fatalf("withdrawn private access: upstream saw %d requests; message %q", up.RequestCount(), msg)
	}

	// DNS rebinding: a public name when saved, loopback when dialed; no connection is made.
	cookie2 := e.userWithTier("rebind@example.com", polydev.TierPlus)
	e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": "sk-rebind-0001", "baseUrl": "https://api.example.com:" + trap + "/v1"}, "Cookie", cookie2), http.StatusCreated)
	token2, _ := e.token(cookie2)
	r = e.want(e.do("POST", "/v1/chat/completions", guardChat, "Authorization", "Bearer "+token2), http.StatusBadGateway)
	msg = openaiErrorOf(t, r).Message
	if n := trapped.Load(); n != 0 || strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "no such host") {
		t.Fatalf("rebinding name: %d connections made; message %q", n, msg)
	}

	// A platform key to an allow-listed private host works for a free user.
	admin := e.signup("admin@example.com", pw)
	e.makeAdmin("admin@example.com")
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": up.Key, "baseUrl": "http://models.internal.test:" + upPort + "/v1"}, "Cookie", admin), http.StatusCreated)
	freeToken, _ := e.apiUser("free@example.com", polydev.TierFree)
	r = e.want(e.do("POST", "/v1/chat/completions", guardChat, "Authorization", "Bearer "+freeToken), http.StatusOK)
	if !strings.Contains(string(r.body), "from the local model") {
		t.Fatalf("platform key to a private host: %s", r.body)
	}
}

// TestKeyAtPolydevRefusedWhenDialed: a key that points at Polydev's own listener (saved before the
// listener's address was known, or through a name that now resolves to it) is refused at connect
// time, platform key or not, so one request never becomes many.
func TestKeyAtPolydevRefusedWhenDialed(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	_, port, _ := net.SplitHostPort(e.ts.Listener.Addr().String())
	guardedUpstreams(t, e, mapDNS{"llm.example.net": "93.184.215.14"}, mapDNS{"llm.example.net": "127.0.0.1"})
	admin := e.signup("admin@example.com", pw)
	e.makeAdmin("admin@example.com")
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": "sk-loop-0001", "baseUrl": "https://llm.example.net:" + port + "/v1"}, "Cookie", admin), http.StatusCreated)
	token, u := e.apiUser("loop@example.com", polydev.TierFree)
	e.want(e.do("POST", "/v1/chat/completions", guardChat, "Authorization", "Bearer "+token), http.StatusBadGateway)
	// Exactly one gateway request was served: the one the test sent.
	if recs := e.usageOf(u); len(recs) != 1 {
		t.Fatalf("%d usage records, want 1", len(recs))
	}
}

// TestPrivateUpstreamErrorNotEchoed: an error answered by a private host reaches the client as its
// status and a generic message; its text is in the log (at warn), not in the response. A public
// provider's message is still shown.
func TestPrivateUpstreamErrorNotEchoed(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	const secret = "db-admin.corp.lan:5432 refused: pg_hba.conf"
	up := testkit.NewOpenAI(t, testkit.WithScript(testkit.Script{Error: &testkit.ErrorReply{Status: http.StatusBadRequest, Message: secret}}))
	guardedUpstreams(t, e, mapDNS{}, mapDNS{})
	admin := e.signup("admin@example.com", pw)
	e.makeAdmin("admin@example.com")
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": up.Key, "baseUrl": up.BaseURL()}, "Cookie", admin), http.StatusCreated)
	token, _ := e.apiUser("echo@example.com", polydev.TierFree)
	for _, body := range []string{guardChat, strings.Replace(guardChat, `"max_tokens":20`, `"max_tokens":20,"stream":true`, 1)} {
		r := e.want(e.do("POST", "/v1/chat/completions", body, "Authorization", "Bearer "+token), http.StatusBadRequest)
		msg := openaiErrorOf(t, r).Message
		if strings.Contains(string(r.body), "pg_hba") || !strings.Contains(msg, "private host") {
			t.Fatalf("private upstream's error echoed: %s", r.body)
		}
	}
	if !strings.Contains(e.logs.String(), "pg_hba") {
		t.Fatal("the private upstream's message is not in the log")
	}
}
