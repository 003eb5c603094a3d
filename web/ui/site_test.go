package ui_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/accounting"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/policy"
	"github.com/polydev/polydev/pricing"
	"github.com/polydev/polydev/providerkeys"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/vault"
	"github.com/polydev/polydev/web"
	"github.com/polydev/polydev/web/ui"
)

// site is the whole server as `polydev serve` builds it (SQLite, the caches, the router, the pages),
// behind TLS on loopback: the session cookie is __Host- (Secure), which a browser keeps over https only.
type site struct {
	URL   string
	Store polydev.Store
	logs  *testkit.SyncBuffer
}

func newSite(t testing.TB, opts ...func(*web.Config, *web.Deps)) *site {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "polydev.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	local := store.NewLocal(db)
	hot := store.NewCached(local, 2*time.Second)
	logs := &testkit.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	kr, err := vault.NewKeyring(map[int][]byte{1: bytes.Repeat([]byte{7}, vault.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	// Provider keys may point at the loopback fakes, and nowhere else.
	loopback, err := netguard.ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	everyone, err := providerkeys.ParsePrivateAccess("free,plus,pro,enterprise")
	if err != nil {
		t.Fatal(err)
	}
	keys := &providerkeys.Service{Store: hot, Vault: vault.NewVault(kr, hot, ""), Guard: loopback, Private: everyone}
	prices := &pricing.Table{Store: db}
	recorder := &accounting.Recorder{Store: local, Log: log}
	recorder.Start()
	t.Cleanup(func() { _ = recorder.Stop(context.Background()) })
	rt := &router.Router{Store: hot, Keys: keys, Prices: prices, Usage: recorder, Log: log,
		Client: loopback.Client(nil), UserClient: loopback.PublicOnly().Client(nil), ShowPrivateErrors: true,
		Ephemeral: policy.GatewayEphemeral(hot)}
	pages, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, deps := web.Config{LoginBurst: 1000}, web.Deps{Store: hot, Log: log, Registry: prometheus.NewRegistry(),
		Keys: keys, Prices: prices, Router: rt, Pages: pages}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	srv, err := web.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ErrorLog = slog.NewLogLogger(slog.New(slog.NewTextHandler(io.Discard, nil)).Handler(), slog.LevelError)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &site{URL: ts.URL, Store: hot, logs: logs}
}

// setTier moves a user to a tier (what an admin or the billing flow would do).
func (s *site) setTier(t testing.TB, email string, tier polydev.Tier) {
	t.Helper()
	s.updateUser(t, email, func(u *polydev.User) { u.Tier = tier })
}

// setRole gives a user a role (the first administrator is made with the CLI, not a page).
func (s *site) setRole(t testing.TB, email string, role polydev.Role) {
	t.Helper()
	s.updateUser(t, email, func(u *polydev.User) { u.Role = role })
}

func (s *site) updateUser(t testing.TB, email string, change func(*polydev.User)) {
	t.Helper()
	u, err := s.Store.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	change(u)
	if err := s.Store.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
}

// mustResetEphemeral forgets the user's ephemeral choice, so the tier's default applies (as after a
// tier change the user has not acted on).
func mustResetEphemeral(t testing.TB, s *site, email string) {
	t.Helper()
	u, err := s.Store.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	set, err := s.Store.UserSettings(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	set.EphemeralMode = nil
	if err := s.Store.PutUserSettings(t.Context(), set); err != nil {
		t.Fatal(err)
	}
}
