package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/agent"
)

// fakeAgent plays one guest's polydev-agent, speaking exactly its login API (agent/README.md):
// POST /token once, then Bearer-token calls POST|GET|DELETE /login, GET /login/credential (once,
// after completion) and POST /credentials (autofill, only into the page's origin). Tests move the
// login along with complete and fail.
type fakeAgent struct {
	ts *httptest.Server

	mu         sync.Mutex
	token      string
	calls      []string // "METHOD /path" in order
	login      map[string]string
	state      string // idle, running, completed, failed
	loginErr   string
	file       string
	content    []byte
	taken      bool
	autofills  []agent.Credentials
	pageOrigin string // the origin of the page open in the guest's browser
}

func newFakeAgent(t *testing.T) *fakeAgent {
	a := &fakeAgent{state: "idle", pageOrigin: "https://claude.ai"}
	a.ts = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.ts.Close)
	return a
}

func agentError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": msg, "type": "agent_error", "code": code}})
}

func (a *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	a.calls = append(a.calls, call)
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
		agentError(w, http.StatusUnsupportedMediaType, "content_type", "want application/json")
		return
	}
	if call == "POST /token" {
		var in struct{ Token string }
		if err := json.Unmarshal(body, &in); err != nil || len(in.Token) < 32 || len(in.Token) > 512 {
			agentError(w, http.StatusBadRequest, "invalid_body", "want {token}")
			return
		}
		if a.token != "" {
			agentError(w, http.StatusConflict, "token_set", "token already set")
			return
		}
		a.token = in.Token
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if a.token == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+a.token)) != 1 {
		agentError(w, http.StatusUnauthorized, "invalid_token", "invalid token")
		return
	}
	switch call {
	case "POST /login":
		if a.login != nil {
			agentError(w, http.StatusConflict, "login_exists", "a login was started")
			return
		}
		var in map[string]string
		if err := json.Unmarshal(body, &in); err != nil {
			agentError(w, http.StatusBadRequest, "invalid_body", "bad body")
			return
		}
		a.login, a.state = in, "running"
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"state":"running"}`))
	case "GET /login":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"state": a.state, "error": a.loginErr})
	case "DELETE /login":
		a.state = "failed"
		w.WriteHeader(http.StatusNoContent)
	case "GET /login/credential":
		switch {
		case a.state != "completed":
			agentError(w, http.StatusConflict, "not_completed", "not completed")
		case a.taken:
			agentError(w, http.StatusGone, "credential_taken", "taken")
		default:
			a.taken = true
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"provider": a.login["provider"], "file": a.file, "format": "json", "content": a.content})
		}
	case "POST /credentials":
		var in agent.Credentials
		if err := json.Unmarshal(body, &in); err != nil || in.TargetURL == "" {
			agentError(w, http.StatusBadRequest, "invalid_body", "want {target_url, username, password}")
			return
		}
		if pageOriginOf(in.TargetURL) != a.pageOrigin {
			agentError(w, http.StatusConflict, "origin_mismatch", "the page is elsewhere")
			return
		}
		a.autofills = append(a.autofills, in)
		w.WriteHeader(http.StatusNoContent)
	default:
		agentError(w, http.StatusNotFound, "not_found", "no such endpoint")
	}
}

func pageOriginOf(raw string) string {
	req, err := http.NewRequest("GET", raw, nil)
	if err != nil {
		return ""
	}
	return req.URL.Scheme + "://" + req.URL.Host
}

// complete makes the login finish with a credential file.
func (a *fakeAgent) complete(file string, content []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state, a.file, a.content = "completed", file, content
}

func (a *fakeAgent) fail(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state, a.loginErr = "failed", msg
}

func (a *fakeAgent) seen() (token string, calls []string, login map[string]string, fills []agent.Credentials) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token, slices.Clone(a.calls), a.login, slices.Clone(a.autofills)
}

// sessionController is a VMController for login sessions: Create records a running browser VM
// with a fake agent of its own; Dial reaches that agent (port 3000) or a fake websockify (6080);
// Delete removes the record, as the real one does once the VM is destroyed.
type sessionController struct {
	t     *testing.T
	store polydev.Store
	novnc string // the fake websockify's address

	mu        sync.Mutex
	agents    map[string]*fakeAgent
	created   int
	deleted   []string
	createErr error
}

func (c *sessionController) Create(ctx context.Context, u *polydev.User, typ polydev.VMType) (*polydev.VM, error) {
	c.mu.Lock()
	err := c.createErr
	c.created++
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if typ != polydev.VMBrowser {
		return nil, polydev.Errorf(polydev.EINVALID, "login sessions need a browser VM, got %q", typ)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	v := &polydev.VM{ID: polydev.NewID(), UserID: u.ID, Type: typ, State: polydev.VMRunning, Driver: "fake",
		VMResources: polydev.VMResources{VCPUs: 2, MemoryMiB: 1024}, CreatedAt: now, UpdatedAt: now, StartedAt: &now, LastActivityAt: now}
	if err := c.store.CreateVM(ctx, v); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.agents[v.ID] = newFakeAgent(c.t)
	c.mu.Unlock()
	return v, nil
}

func (c *sessionController) agent(vmID string) *fakeAgent {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.agents[vmID]
	if a == nil {
		c.t.Fatalf("no VM %s was created", vmID)
	}
	return a
}

func (c *sessionController) Start(context.Context, *polydev.User, string) (*polydev.VM, error) {
	return nil, errNotUsed
}
func (c *sessionController) Stop(context.Context, *polydev.User, string) (*polydev.VM, error) {
	return nil, errNotUsed
}

func (c *sessionController) Delete(ctx context.Context, u *polydev.User, id string) error {
	if _, err := c.store.VMByID(ctx, u.ID, id); err != nil {
		return err
	}
	if err := c.store.DeleteVM(ctx, id); err != nil {
		return err
	}
	c.mu.Lock()
	c.deleted = append(c.deleted, id)
	c.mu.Unlock()
	return nil
}

func (c *sessionController) wasDeleted(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.deleted, id)
}

func (c *sessionController) creates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.created
}

func (c *sessionController) PoolStats(context.Context) (polydev.VMPoolStats, error) {
	return polydev.VMPoolStats{}, nil
}

func (c *sessionController) Dial(ctx context.Context, u *polydev.User, id string, port uint16) (net.Conn, error) {
	v, err := c.store.VMByID(ctx, u.ID, id)
	if err != nil {
		return nil, err
	}
	if v.State != polydev.VMRunning {
		return nil, polydev.Errorf(polydev.ECONFLICT, "VM is not running")
	}
	var addr string
	switch port {
	case polydev.VMPortAgent:
		addr = c.agent(id).ts.Listener.Addr().String()
	case polydev.VMPortNoVNC:
		addr = c.novnc
	default:
		return nil, polydev.Errorf(polydev.EINVALID, "port %d is not reachable", port)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// fakeEgress records the allow-lists sessions ask for and whether they were closed.
type fakeEgress struct {
	mu     sync.Mutex
	opened map[string]string // vm id → session id
	closed map[string]bool   // session id
}

func (f *fakeEgress) Open(vmID string, a *polydev.AuthSession) (io.Closer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened[vmID] = a.ID
	return closerFunc(func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.closed[a.ID] = true
		return nil
	}), nil
}

func (f *fakeEgress) state(vmID, sessionID string) (opened, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opened[vmID] == sessionID, f.closed[sessionID]
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
