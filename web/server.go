// Package web is Polydev's HTTP layer: routing, middleware (request ids, access logs, metrics, panics,
// CSRF, body limits), authentication (session cookie or API token) and the JSON API handlers. Handlers
// return errors; errors are rendered in exactly one place (error.go) in one JSON shape. It must not
// hold business rules that belong in the root package or in services below it.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
	"github.com/polydev/polydev/authsession"
	"github.com/polydev/polydev/billing"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/mail"
	"github.com/polydev/polydev/mcp"
	"github.com/polydev/polydev/policy"
	"github.com/polydev/polydev/pricing"
	"github.com/polydev/polydev/providerkeys"
)

// Config holds the HTTP layer's settings; zero values get the defaults noted.
type Config struct {
	SessionIdle         time.Duration // default 72h: a session unused this long ends
	SessionMax          time.Duration // default 30 days: absolute session lifetime
	MaxBodyBytes        int64         // default 1 MiB for API JSON bodies
	MaxGatewayBodyBytes int64         // default 32 MiB for generation requests (images, long documents)
	TrustedOrigins      []string      // extra origins allowed for cookie-authenticated writes
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client (login
	// throttling, access log); empty: the connection's address is the client.
	TrustedProxies  []netip.Prefix
	SignupDisabled  bool          // refuse POST /api/account/signup
	StreamHeartbeat time.Duration // default 15s: an idle stream gets an SSE comment this often
	LoginBurst      int           // default 10 attempts per account and client before throttling (see throttle)
	LoginRefillTime time.Duration // default 30s: one attempt regained per this period
	NoVNCDir        string        // default DefaultNoVNCDir: the noVNC client served at /novnc/
	// PasswordHashers bounds concurrent argon2id hashes (default: the number of CPUs, at least 2);
	// a request waits up to PasswordHashWait (default 2s) for a slot, then gets 503 + Retry-After.
	PasswordHashers  int
	PasswordHashWait time.Duration
	// BodyReadTimeout bounds the time to receive a JSON API request's body (default 30s), so a body
	// dribbled byte by byte cannot hold a connection and its buffers open.
	BodyReadTimeout time.Duration
	// Mail (when Deps.Mail is set): links in mails start with PublicURL (e.g.
	// https://polydev.example.com); a verification link lasts VerifyTTL (default 24h), a reset
	// link ResetTTL (default 30m).
	PublicURL string
	VerifyTTL time.Duration
	ResetTTL  time.Duration

	// Gateway admission (admission.go). GatewayBodyLimits caps a surface's body (keys: the Limit*
	// names; a missing one is MaxGatewayBodyBytes). GatewayBodyTimeout bounds the time to receive a
	// gateway body from the request's arrival (default 2m: a 32 MiB body at 280 KB/s). An account
	// may have UserRequests gateway requests (default 128) and UserBodyBytes of their bodies
	// (default 64 MiB) in flight, the server BodyBytesInFlight (default: an eighth of the host's
	// memory, from 256 MiB to 4 GiB).
	GatewayBodyLimits  map[string]int64
	GatewayBodyTimeout time.Duration
	UserRequests       int
	UserBodyBytes      int64
	BodyBytesInFlight  int64

	// Connections (HTTPServer): at most MaxConns open (default: half the descriptors the process
	// may open, after 256 kept for files, the database and upstream calls, at least 64);
	// HeaderTimeout (default 10s) to send a request's headers; IdleTimeout (default 120s) between
	// requests on one connection.
	MaxConns      int
	HeaderTimeout time.Duration
	IdleTimeout   time.Duration
}

func (c *Config) setDefaults() {
	if c.SessionIdle == 0 {
		c.SessionIdle = 72 * time.Hour
	}
	if c.SessionMax == 0 {
		c.SessionMax = 30 * 24 * time.Hour
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxGatewayBodyBytes == 0 {
		c.MaxGatewayBodyBytes = 32 << 20
	}
	if c.StreamHeartbeat == 0 {
		c.StreamHeartbeat = 15 * time.Second
	}
	if c.LoginBurst == 0 {
		c.LoginBurst = 10
	}
	if c.LoginRefillTime == 0 {
		c.LoginRefillTime = 30 * time.Second
	}
	if c.PasswordHashers == 0 {
		c.PasswordHashers = max(2, runtime.GOMAXPROCS(0))
	}
	if c.PasswordHashWait == 0 {
		c.PasswordHashWait = 2 * time.Second
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = 30 * time.Second
	}
	if c.VerifyTTL == 0 {
		c.VerifyTTL = 24 * time.Hour
	}
	if c.ResetTTL == 0 {
		c.ResetTTL = 30 * time.Minute
	}
	c.setAdmissionDefaults()
}

func (c *Config) setAdmissionDefaults() {
	if c.GatewayBodyTimeout == 0 {
		c.GatewayBodyTimeout = 2 * time.Minute
	}
	if c.UserRequests == 0 {
		c.UserRequests = 128
	}
	if c.UserBodyBytes == 0 {
		c.UserBodyBytes = 64 << 20
	}
	if c.BodyBytesInFlight == 0 {
		c.BodyBytesInFlight = defaultBodyBytesInFlight()
	}
	if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns(openFileLimit())
	}
	if c.HeaderTimeout == 0 {
		c.HeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 120 * time.Second
	}
}

// defaultBodyBytesInFlight is an eighth of the host's memory, within [256 MiB, 4 GiB] (1 GiB when
// it cannot be read): bodies are held, decoded and re-encoded, about four times their size.
func defaultBodyBytesInFlight() int64 {
	m, err := readMemInfo(memInfoPath)
	if err != nil || m.total == 0 {
		return 1 << 30
	}
	return min(max(int64(m.total/8), 256<<20), 4<<30)
}

// defaultMaxConns leaves 256 descriptors for files, the database and the like and splits the rest
// between client connections and the upstream calls they make.
func defaultMaxConns(nofile uint64) int {
	if nofile == 0 {
		return 1024
	}
	n := (int64(min(nofile, 1<<22)) - 256) / 2
	return int(max(n, 64))
}

// Deps are the components the HTTP layer serves.
type Deps struct {
	Store    polydev.Store
	Log      *slog.Logger
	Registry *prometheus.Registry // receives the HTTP metrics; served at /metrics
	Keys     *providerkeys.Service
	Prices   *pricing.Table
	Router   *router.Router
	VMs      polydev.VMController // nil: VM support is off and VM changes answer 503
	Pages    Pages                // nil: no HTML pages (the JSON API only)
	// Mail sends verification and password-reset mail; nil: the server sends no mail, sign-up
	// needs no verification and passwords are reset by administrators.
	Mail    mail.Sender
	Billing *billing.Service // nil: Stripe is not configured and billing routes answer 503
	// AuthSessions runs browser login sessions; nil (VM support off): their changes answer 503.
	AuthSessions *authsession.Service
}

// Server is the HTTP API. Build one with New and serve Handler().
type Server struct {
	cfg       Config
	store     polydev.Store
	keys      *providerkeys.Service
	prices    *pricing.Table
	router    *router.Router
	vms       polydev.VMController
	convs     *conversations.Service
	log       *slog.Logger
	metrics   *metrics
	csrf      *http.CrossOriginProtection
	limiter   *limiter
	hashes    *auth.Gate // bounds concurrent argon2id work
	now       func() time.Time
	handler   http.Handler
	registry  *prometheus.Registry
	vnc       vncState
	pages     Pages
	mail      mail.Sender // nil: no mail (see Deps.Mail)
	outbox    *outbox     // runs mail work off the request path; nil without mail
	mcp       *mcp.Server // nil without a router
	billing   *billing.Service
	tierRules *policy.TierRules
	inflight  *inflight // gateway requests and body bytes in flight (admission)
	refusals  refusals  // tier limits that refused an account, until they reset
	conns     atomic.Pointer[connLimit]

	authSessions *authsession.Service
}

// New builds the server and its routes.
func New(cfg Config, d Deps) (*Server, error) {
	cfg.setDefaults()
	s := &Server{
		cfg: cfg, store: d.Store, keys: d.Keys, prices: d.Prices, router: d.Router, vms: d.VMs, log: d.Log, registry: d.Registry, pages: d.Pages,
		csrf: http.NewCrossOriginProtection(),
		now:  polydev.Now,
	}
	for _, o := range cfg.TrustedOrigins {
		if err := s.csrf.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	s.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, polydev.Errorf(polydev.EFORBIDDEN, "cross-origin request refused"))
	}))
	// Conversations are sealed by the same vault as provider keys: one vault (and DEK cache) per process.
	if d.Keys != nil {
		s.convs = &conversations.Service{Store: d.Store, Vault: d.Keys.Vault, Now: func() time.Time { return s.now() }}
	}
	s.billing = d.Billing
	s.authSessions = d.AuthSessions
	s.tierRules = &policy.TierRules{Store: d.Store, Log: d.Log}
	if d.VMs != nil {
		s.tierRules.VMs = d.VMs
	}
	s.limiter = newLimiter(func() time.Time { return s.now() })
	s.hashes = auth.NewGate(cfg.PasswordHashers, cfg.PasswordHashWait)
	s.inflight = newInflight(cfg.UserRequests, cfg.UserBodyBytes, cfg.BodyBytesInFlight)
	s.metrics = newMetrics(d.Registry)
	if d.Mail != nil {
		s.setMail(d.Mail)
	}
	if d.Router != nil {
		s.mcp = s.newMCP()
	}
	s.registerAdmissionMetrics(d.Registry)
	s.handler = s.middleware(s.routes())
	return s, nil
}

// setMail turns mail on with sender m.
func (s *Server) setMail(m mail.Sender) {
	s.mail, s.outbox = m, newOutbox(s.log, time.Minute)
}

// Close waits for the MCP turns still being kept, then sends the mail still queued (until ctx
// ends) and stops the outbox. Call it after the HTTP server has shut down.
func (s *Server) Close(ctx context.Context) error {
	if s.mcp != nil {
		if err := s.mcp.Wait(ctx); err != nil {
			return err
		}
	}
	if s.outbox == nil {
		return nil
	}
	return s.outbox.close(ctx)
}

// Handler returns the root handler with all middleware.
func (s *Server) Handler() http.Handler { return s.handler }
