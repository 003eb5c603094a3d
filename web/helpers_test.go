package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/accounting"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/internal/pgtest"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/policy"
	"github.com/polydev/polydev/pricing"
	"github.com/polydev/polydev/providerkeys"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/postgres"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/vault"
)

// fakeDNS answers the few names tests use, so no test ever resolves a real name.
type fakeDNS struct{}

func (fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	switch host {
	case "api.example.com":
		return []net.IPAddr{{IP: net.ParseIP("93.184.215.14")}}, nil
	case "internal.example.com":
		return []net.IPAddr{{IP: net.ParseIP("10.1.2.3")}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testClock is the server's clock in tests: real time plus an offset the test moves, safe to change
// while handlers run.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time      { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) set(d time.Duration) { c.offset.Store(int64(d)) }

type env struct {
	t        testing.TB
	clock    *testClock
	recorder *accounting.Recorder
	local    *store.Local // SQLite's single-node limiter (nil on PostgreSQL)
	srv      *Server
	store    polydev.Store
	ts       *httptest.Server
	logs     *syncBuffer
}

var engines = []string{"sqlite", "postgres"}

// newEnv starts the API on a fresh store of the given engine, logging at debug level into a buffer
// the test can search.
func newEnv(t testing.TB, engine string, cfg Config, deps ...func(*Deps)) *env {
	t.Helper()
	if engine == "sqlite" {
		return newEnvAt(t, engine, filepath.Join(t.TempDir(), "polydev.db"), cfg, deps...)
	}
	return newEnvAt(t, engine, pgtest.URL(t), cfg, deps...)
}

// newEnvAt is newEnv on a given SQLite path or PostgreSQL URL.
// deps may add components to the server's Deps before it is built.
func newEnvAt(t testing.TB, engine, where string, cfg Config, deps ...func(*Deps)) *env {
	t.Helper()
	var st polydev.Store
	var err error
	switch engine {
	case "sqlite":
		st, err = sqlite.Open(t.Context(), where)
	case "postgres":
		st, err = postgres.Open(t.Context(), where)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var local *store.Local
	if db, ok := st.(*store.DB); ok && engine == "sqlite" {
		local = store.NewLocal(db) // as serve runs SQLite: limits in this process's memory
		st = local
	}
	st = store.NewCached(st, 2*time.Second) // as serve runs it: tests see their own writes at once
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	kr, err := vault.NewKeyring(map[int][]byte{1: bytes.Repeat([]byte{7}, vault.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	guard, err := netguard.ParseAllowList("")
	if err != nil {
		t.Fatal(err)
	}
	// Tests that allow loopback upstreams mean them for every user's keys too (the default, nobody's,
	// is tested on its own in TestPrivateUpstreamsAreTheOperators).
	everyone, err := providerkeys.ParsePrivateAccess("free,plus,pro,enterprise")
	if err != nil {
		t.Fatal(err)
	}
	keys := &providerkeys.Service{Store: st, Vault: vault.NewVault(kr, st, ""), Guard: guard.WithResolver(fakeDNS{}), Private: everyone}
	prices := &pricing.Table{Store: st}
	recorder := &accounting.Recorder{Store: st, Log: log}
	recorder.Start()
	t.Cleanup(func() { _ = recorder.Stop(context.Background()) })
	allowLoopback, err := netguard.ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	rt := &router.Router{Store: st, Keys: keys, Prices: prices, Usage: recorder, Log: log, Client: allowLoopback.Client(nil),
		UserClient: allowLoopback.PublicOnly().Client(nil), ShowPrivateErrors: true, Ephemeral: policy.GatewayEphemeral(st)}
	d := Deps{Store: st, Log: log, Registry: prometheus.NewRegistry(), Keys: keys, Prices: prices, Router: rt}
	for _, f := range deps {
		f(&d)
	}
	srv, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	keys.Now = srv.now
	clock := &testClock{}
	srv.now = clock.now
	keys.Now = clock.now
	rt.Now = clock.now
	srv.limiter.now = clock.now
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, clock: clock, srv: srv, recorder: recorder, local: local, store: st, ts: ts, logs: logs}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.status, err, r.body)
	}
}

// errorBody checks that the response is the one JSON error shape and returns it.
func (r *resp) errorBody(t testing.TB) ErrorDetail {
	t.Helper()
	var b ErrorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error.Message == "" || b.Error.Type == "" || b.Error.Code == "" {
		t.Fatalf("status %d: body is not the JSON error shape: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q", ct)
	}
	return b.Error
}

// do sends a request; body may be a string (sent raw) or a value (sent as JSON). Headers come in pairs.
func (e *env) do(method, path string, body any, headers ...string) *resp {
	e.t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rdr = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.ts.URL+path, rdr)
	if err != nil {
		e.t.Fatal(err)
	}
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) want(r *resp, status int) *resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// signup creates an account and returns its session cookie header value ("name=value").
func (e *env) signup(email, password string) string {
	e.t.Helper()
	r := e.want(e.do("POST", "/api/account/signup", map[string]string{"email": email, "password": password}), http.StatusCreated)
	return sessionCookie(e.t, r)
}

func sessionCookie(t testing.TB, r *resp) string {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == SessionCookie && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no session cookie in response: %v", r.header)
	return ""
}

// token creates an API token for the cookie's user and returns its secret and id.
func (e *env) token(cookie string) (secret, id string) {
	e.t.Helper()
	var out struct{ Token, ID string }
	e.want(e.do("POST", "/api/account/tokens", map[string]string{"name": "t"}, "Cookie", cookie), http.StatusCreated).json(e.t, &out)
	return out.Token, out.ID
}

// makeAdmin promotes the account with this email.
func (e *env) makeAdmin(email string) {
	e.t.Helper()
	u, err := e.store.UserByEmail(e.t.Context(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	u.Role = polydev.RoleAdmin
	if err := e.store.UpdateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
}
