package router

import (
	"context"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/policy"
)

// candidates lists the keys a request may use, in the order to try, by the user's tier
// (DESIGN.md §4), and whether they are the platform's:
//
//   - free: platform keys only;
//   - plus and pro: the user's own active keys for the provider when there are any (then only
//     those: a user's budget is theirs, it never silently spills onto the platform's), else
//     platform keys;
//   - enterprise: the user's own keys only;
//   - ephemeral mode applies with the user's own keys; without one the request uses platform keys
//     as the tier allows, and is then not ephemeral (its conversation may be stored, encrypted, and
//     the response says so); strict ephemeral mode refuses it instead.
//
// Limits (budget, daily, per-minute, concurrency) are not checked here: Reserve checks them
// atomically as each candidate is tried.
func (r *Router) candidates(ctx context.Context, u *polydev.User, lim *polydev.TierLimits, prov polydev.Provider, eph policy.Ephemeral) (keys []*polydev.ProviderKey, platform bool, err error) {
	useBYOK := lim.BYOK != polydev.BYOKUnavailable
	usePlatform := lim.PlatformKeys && lim.BYOK != polydev.BYOKRequired
	if useBYOK {
		keys, err := r.Store.ListProviderKeys(ctx, u.ID)
		if err != nil {
			return nil, false, err
		}
		if own := activeFor(keys, prov); len(own) > 0 {
			return own, false, nil
		}
	}
	switch {
	case lim.BYOK == polydev.BYOKRequired:
		return nil, false, polydev.Errorf(polydev.EFORBIDDEN, "the %s tier uses your own keys only: add a %s key under API keys", u.Tier, prov)
	case !usePlatform:
		return nil, false, polydev.Errorf(polydev.EFORBIDDEN, "the %s tier cannot use platform keys: add a %s key under API keys", u.Tier, prov)
	case eph.On && eph.Strict:
		return nil, false, polydev.Errorf(polydev.EFORBIDDEN, "strict ephemeral mode uses your own keys only: add a %s key under API keys, or turn strict ephemeral off in security settings (requests without your own key then use the platform's key, and their conversations are stored encrypted)", prov)
	}
	keys, err = r.Store.ListProviderKeys(ctx, "")
	if err != nil {
		return nil, false, err
	}
	if platform := activeFor(keys, prov); len(platform) > 0 {
		return platform, true, nil
	}
	return nil, false, polydev.Errorf(polydev.EUNAVAILABLE, "no %s key is configured on this server: ask an administrator, or add your own", prov)
}

// activeFor keeps the active keys of one provider, in priority order (the store's order).
func activeFor(keys []*polydev.ProviderKey, prov polydev.Provider) []*polydev.ProviderKey {
	var out []*polydev.ProviderKey
	for _, k := range keys {
		if k.Provider == prov && k.Active {
			out = append(out, k)
		}
	}
	return out
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
