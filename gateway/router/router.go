// Package router is the gateway's middle: it resolves a model name to a provider, chooses the provider
// key for a request (failing over to the next key on errors that allow it, before any byte reached the
// client), calls the provider adapter, prices the usage and hands a usage record to the accounting
// recorder. It speaks the canonical llm model only; inbound shapes and HTTP live in package web.
package router

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/accounting"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/anthropic"
	"github.com/polydev/polydev/gateway/provider/gemini"
	"github.com/polydev/polydev/gateway/provider/openai"
	"github.com/polydev/polydev/policy"
	"github.com/polydev/polydev/pricing"
	"github.com/polydev/polydev/providerkeys"
)

// Router routes canonical requests to providers.
type Router struct {
	Store  polydev.Store
	Keys   *providerkeys.Service
	Prices *pricing.Table
	Usage  *accounting.Recorder
	// Client calls upstreams for platform keys, and for the own keys of users the operator lets use
	// private upstreams (Keys.Private): it must use netguard's transport under the operator's allow
	// list, so upstream addresses are re-checked at connect time.
	Client *http.Client
	// UserClient calls upstreams for every other user's own keys: netguard's transport under the
	// public-only policy (netguard.Policy.PublicOnly), so a user's key can never reach a private,
	// loopback or link-local address, even through a name that changes its answer after the key was
	// saved (DNS rebinding). Its own transport keeps its own connections: a connection the
	// operator's client opened to a private host is never reused for a user's key. Nil refuses
	// such keys.
	UserClient *http.Client
	// Timeouts bound every upstream exchange's waits (first byte, and between reads of the body);
	// they apply to Client and UserClient as they are at the first call.
	Timeouts Timeouts
	// ShowPrivateErrors passes a private host's error text on to clients (Call.hidePrivate). serve
	// leaves it off; tests turn it on, since every fake upstream of theirs listens on loopback.
	ShowPrivateErrors bool
	Log               *slog.Logger
	Now               func() time.Time
	// Ephemeral returns a user's ephemeral mode (policy.GatewayEphemeral); nil = never on.
	Ephemeral func(ctx context.Context, u *polydev.User, lim *polydev.TierLimits) (policy.Ephemeral, error)

	adaptersOnce sync.Once
	adapters     map[polydev.Provider]provider.Provider

	clientsOnce        sync.Once
	client, userClient *http.Client // Client and UserClient under Timeouts

	secrets sync.Map // key id → cachedSecret: decrypted keys, kept briefly to spare the hot path
}

type cachedSecret struct {
	secret  string
	sealed  string // the envelope it came from: a changed key invalidates the entry
	expires time.Time
}

// secretTTL bounds how long a decrypted key stays in memory after its last lookup from the store.
const secretTTL = time.Minute

func (r *Router) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Router) adapter(p polydev.Provider) provider.Provider {
	r.adaptersOnce.Do(func() {
		oa := &openai.Provider{}
		r.adapters = map[polydev.Provider]provider.Provider{
			polydev.ProviderOpenAI:           oa,
			polydev.ProviderOpenAICompatible: oa,
			polydev.ProviderAnthropic:        &anthropic.Provider{},
			polydev.ProviderGemini:           &gemini.Provider{},
		}
	})
	return r.adapters[p]
}

// Route is a resolved model: which provider serves it, under which upstream id, and its price.
type Route struct {
	Model    string // canonical "provider/model", as recorded and priced (a dated id's family)
	Provider polydev.Provider
	Upstream string // the model id the provider is asked for: the client's, normalised
	Price    *polydev.ModelPrice
	// Unpriced: the price table does not know the model. Price is then all zero and the call may only
	// use a user's own key without a monthly budget (Call.try); its record says so.
	Unpriced bool
}

// Resolve maps a client's model name ("provider/model", or a bare name the price table knows, in
// any spelling pricing.Table.Resolve accepts) to a route. A "provider/model" the price table does not
// know is routed unpriced, so that self-hosted and brand-new models work on a user's own key; on a
// platform key or a key with a budget it is refused when the call tries the key.
func (r *Router) Resolve(ctx context.Context, model string) (*Route, error) {
	res, err := r.Prices.Resolve(ctx, model)
	if err != nil {
		return nil, err
	}
	if res.Price != nil {
		return &Route{Model: res.Price.Model, Provider: res.Provider, Upstream: res.Upstream, Price: res.Price}, nil
	}
	name := string(res.Provider) + "/" + res.Upstream
	return &Route{Model: name, Provider: res.Provider, Upstream: res.Upstream, Price: &polydev.ModelPrice{Model: name}, Unpriced: true}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Models returns the priced models the user may use: allowed by the tier, of a provider for which
// a key is available to the user.
func (r *Router) Models(ctx context.Context, u *polydev.User) ([]*polydev.ModelPrice, error) {
	entries, err := r.Prices.Entries(ctx)
	if err != nil {
		return nil, err
	}
	lim, err := r.Store.TierLimitsFor(ctx, u.Tier)
	if err != nil {
		return nil, err
	}
	var eph policy.Ephemeral
	if r.Ephemeral != nil {
		if eph, err = r.Ephemeral(ctx, u, lim); err != nil {
			return nil, err
		}
	}
	usable := map[polydev.Provider]bool{}
	for _, p := range polydev.Providers {
		if _, _, err := r.candidates(ctx, u, lim, p, eph); err == nil {
			usable[p] = true
		}
	}
	out := []*polydev.ModelPrice{}
	for _, e := range entries {
		if usable[e.Provider()] && lim.AllowsModel(e.Model) {
			out = append(out, e.ModelPrice)
		}
	}
	return out, nil
}
