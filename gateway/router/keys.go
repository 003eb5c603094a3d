package router

import (
	"context"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/provider"
)

// candidate is a key a request may use, in the order to try.
type candidate struct {
	key *polydev.ProviderKey
}

// candidates lists the keys for a request, best first: the user's own available keys for the
// provider (BYOK), then the platform's, each by priority. An openai/ model may also use
// openai-compatible keys only if the model names that provider explicitly, so keys never leak across
// providers.
func (r *Router) candidates(ctx context.Context, u *polydev.User, prov polydev.Provider) ([]candidate, error) {
	now := r.now()
	var out []candidate
	for _, owner := range []string{u.ID, ""} {
		keys, err := r.Store.ListProviderKeys(ctx, owner)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.Provider == prov && k.Available(now) {
				out = append(out, candidate{k})
			}
		}
		if len(out) > 0 {
			break // a user with an available key of their own uses it, not the platform's
		}
	}
	if len(out) == 0 {
		return nil, polydev.Errorf(polydev.EUNAVAILABLE, "no %s key is available: add one under API keys, or ask an administrator", prov)
	}
	return out, nil
}

// target decrypts a key (through a short-lived cache) into where and as whom to call.
func (r *Router) target(ctx context.Context, k *polydev.ProviderKey) (provider.Target, error) {
	now := r.now()
	if v, ok := r.secrets.Load(k.ID); ok {
		c := v.(cachedSecret)
		if c.sealed == string(k.Secret) && now.Before(c.expires) {
			return provider.Target{BaseURL: k.BaseURL, APIKey: c.secret}, nil
		}
	}
	secret, err := r.Keys.Secret(ctx, k)
	if err != nil {
		return provider.Target{}, err
	}
	r.secrets.Store(k.ID, cachedSecret{secret: secret, sealed: string(k.Secret), expires: now.Add(secretTTL)})
	return provider.Target{BaseURL: k.BaseURL, APIKey: secret}, nil
}
