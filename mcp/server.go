package mcp

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/router"
)

// Deps are what the tools run on.
type Deps struct {
	Router *router.Router
	Store  polydev.Store
	Log    *slog.Logger
	Now    func() time.Time // default polydev.Now
	// Status is the HTTP status the gateway answers err with: a failed call's usage record holds it.
	Status func(err error) int
	// Keep stores one answered turn (the prompt and one model's reply) as the call's ephemeral mode
	// allows: content sealed in a conversation, or only metadata. Nil stores nothing.
	Keep func(ctx context.Context, call *router.Call, prompt, reply string)
}

// Server is the MCP server of `polydev serve`.
type Server struct {
	d       Deps
	srv     *sdk.Server
	handler http.Handler
	keeping sync.WaitGroup // answered turns being kept (Deps.Keep) after their tool call returned
}

// New builds the server and registers its tools.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = polydev.Now
	}
	s := &Server{d: d}
	s.srv = sdk.NewServer(&sdk.Implementation{Name: "polydev", Title: "Polydev", Version: polydev.Version}, &sdk.ServerOptions{
		Instructions: "Polydev asks several AI models at once. Call get_perspectives with a prompt (and, optionally, " +
			"models from list_models) to get each model's answer side by side; usage_summary shows what you spent.",
		Logger: d.Log,
	})
	s.addTools()
	// Stateless: every HTTP request carries its own credentials and stands alone, so any replica
	// serves any request and a revoked token stops working at the next request. Progress
	// notifications still reach the client, on the response stream of the call they belong to.
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.srv }, &sdk.StreamableHTTPOptions{
		Stateless: true,
		Logger:    d.Log,
		// The SDK's DNS-rebinding guard refuses loopback connections whose Host is not a loopback
		// name, which is every request through a reverse proxy on the same host. It protects
		// servers that trust the network; this one requires a bearer token that a browser never
		// attaches on its own.
		DisableLocalhostProtection: true,
	})
	// The SDK hands a request's TokenInfo to the tool handlers; web has authenticated the caller
	// already (WithUser), so the verifier only carries the user across.
	s.handler = sdkauth.RequireBearerToken(func(ctx context.Context, _ string, r *http.Request) (*sdkauth.TokenInfo, error) {
		u, ok := ctx.Value(userKey{}).(*polydev.User)
		if !ok {
			return nil, sdkauth.ErrInvalidToken
		}
		return &sdkauth.TokenInfo{UserID: u.ID, Extra: map[string]any{userExtra: u}}, nil
	}, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
	return s
}

// Wait waits until the turns of calls answered so far are kept (or ctx ends). At shutdown, call it
// after the HTTP server has stopped and before the store closes.
func (s *Server) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.keeping.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handler serves MCP over Streamable HTTP for requests whose context carries a user (WithUser).
func (s *Server) Handler() http.Handler { return s.handler }

type userKey struct{}

const userExtra = "polydev.user"

// WithUser returns ctx carrying the authenticated caller.
func WithUser(ctx context.Context, u *polydev.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// caller is the user a tool call runs for.
func caller(extra *sdk.RequestExtra) (*polydev.User, error) {
	if extra != nil && extra.TokenInfo != nil {
		if u, ok := extra.TokenInfo.Extra[userExtra].(*polydev.User); ok {
			return u, nil
		}
	}
	return nil, polydev.Errorf(polydev.EUNAUTHORIZED, "authentication required")
}
