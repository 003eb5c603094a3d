package store

import (
	"context"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// Cached wraps a store with short-lived caches of what every gateway request reads: the API token
// and its user, the tier rows, the user's settings and the provider key lists. Writes made through
// the wrapper invalidate what they change at once, so this process never serves its own stale
// data; changes made by another replica are seen within TTL. Limits, budgets and accounting are
// never cached here: they are enforced by atomic statements in the database, or by the single-node
// limiter (Local) that this wraps on SQLite.
type Cached struct {
	polydev.Store
	TTL time.Duration // default 2s

	mu       sync.Mutex
	tokens   map[string]entry[*polydev.APIToken] // by hash
	tokenIDs map[string]string                   // token id -> hash, for TouchToken
	users    map[string]entry[*polydev.User]
	tiers    map[polydev.Tier]entry[*polydev.TierLimits]
	settings map[string]entry[*polydev.UserSettings]
	keys     map[string]entry[[]*polydev.ProviderKey] // by owner ("" = platform)
}

type entry[T any] struct {
	v   T
	exp time.Time
}

// maxEntries bounds each cache; a full cache is emptied (it refills from the store).
const maxEntries = 50_000

// NewCached wraps s.
func NewCached(s polydev.Store, ttl time.Duration) *Cached {
	if ttl <= 0 {
		ttl = 2 * time.Second
	}
	return &Cached{Store: s, TTL: ttl, tokens: map[string]entry[*polydev.APIToken]{}, tokenIDs: map[string]string{}, users: map[string]entry[*polydev.User]{},
		tiers: map[polydev.Tier]entry[*polydev.TierLimits]{}, settings: map[string]entry[*polydev.UserSettings]{},
		keys: map[string]entry[[]*polydev.ProviderKey]{}}
}

// cached returns m[k] if fresh, else loads, stores and returns it. Values are shared: callers must
// not modify them (the gateway does not; handlers that edit load through the store's write path).
func cached[K comparable, V any](c *Cached, m map[K]entry[V], k K, load func() (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	if e, ok := m[k]; ok && now.Before(e.exp) {
		c.mu.Unlock()
		return e.v, nil
	}
	c.mu.Unlock()
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(m) >= maxEntries {
		clear(m)
	}
	m[k] = entry[V]{v, now.Add(c.TTL)}
	c.mu.Unlock()
	return v, nil
}

func (c *Cached) forget(f func()) {
	c.mu.Lock()
	f()
	c.mu.Unlock()
}

// TokenByHash implements polydev.TokenStore (cached).
func (c *Cached) TokenByHash(ctx context.Context, hash string) (*polydev.APIToken, error) {
	return cached(c, c.tokens, hash, func() (*polydev.APIToken, error) {
		tok, err := c.Store.TokenByHash(ctx, hash)
		if err == nil {
			c.forget(func() {
				if len(c.tokenIDs) >= maxEntries {
					clear(c.tokenIDs)
				}
				c.tokenIDs[tok.ID] = hash
			})
		}
		return tok, err
	})
}

// RevokeToken implements polydev.TokenStore; the token stops working here at once.
func (c *Cached) RevokeToken(ctx context.Context, userID, id string, at time.Time) error {
	err := c.Store.RevokeToken(ctx, userID, id, at)
	c.forget(func() {
		for h, e := range c.tokens {
			if e.v.ID == id {
				delete(c.tokens, h)
			}
		}
	})
	return err
}

// TouchToken implements polydev.TokenStore. The cached token takes the new last-use time first, so
// that the requests that follow (which touch only when it is old) do not each write it again until
// the cache refreshes; a touch the cache shows as done within the last second is not repeated (many
// concurrent requests of one client see the same old time).
func (c *Cached) TouchToken(ctx context.Context, id string, at time.Time) error {
	c.mu.Lock()
	hash := c.tokenIDs[id]
	if e, ok := c.tokens[hash]; ok && e.v.ID == id {
		if last := e.v.LastUsedAt; last != nil && at.Sub(*last) < time.Second {
			c.mu.Unlock()
			return nil
		}
		tok := *e.v // cached values are shared: replace, never modify
		tok.LastUsedAt = &at
		c.tokens[hash] = entry[*polydev.APIToken]{&tok, e.exp}
	}
	c.mu.Unlock()
	return c.Store.TouchToken(ctx, id, at)
}

// UserByID implements polydev.UserStore (cached).
func (c *Cached) UserByID(ctx context.Context, id string) (*polydev.User, error) {
	return cached(c, c.users, id, func() (*polydev.User, error) { return c.Store.UserByID(ctx, id) })
}

// UpdateUser implements polydev.UserStore.
func (c *Cached) UpdateUser(ctx context.Context, u *polydev.User) error {
	err := c.Store.UpdateUser(ctx, u)
	c.forget(func() { delete(c.users, u.ID) })
	return err
}

// TierLimitsFor implements polydev.TierStore (cached).
func (c *Cached) TierLimitsFor(ctx context.Context, t polydev.Tier) (*polydev.TierLimits, error) {
	return cached(c, c.tiers, t, func() (*polydev.TierLimits, error) { return c.Store.TierLimitsFor(ctx, t) })
}

// PutTierLimits implements polydev.TierStore.
func (c *Cached) PutTierLimits(ctx context.Context, rows []*polydev.TierLimits) error {
	err := c.Store.PutTierLimits(ctx, rows)
	c.forget(func() { clear(c.tiers) })
	return err
}

// UserSettings implements polydev.SettingsStore (cached).
func (c *Cached) UserSettings(ctx context.Context, userID string) (*polydev.UserSettings, error) {
	return cached(c, c.settings, userID, func() (*polydev.UserSettings, error) { return c.Store.UserSettings(ctx, userID) })
}

// PutUserSettings implements polydev.SettingsStore.
func (c *Cached) PutUserSettings(ctx context.Context, s *polydev.UserSettings) error {
	err := c.Store.PutUserSettings(ctx, s)
	c.forget(func() { delete(c.settings, s.UserID) })
	return err
}

// ListProviderKeys implements polydev.ProviderKeyStore (cached).
func (c *Cached) ListProviderKeys(ctx context.Context, owner string) ([]*polydev.ProviderKey, error) {
	return cached(c, c.keys, owner, func() ([]*polydev.ProviderKey, error) { return c.Store.ListProviderKeys(ctx, owner) })
}

func (c *Cached) forgetKeys(owner string) { c.forget(func() { delete(c.keys, owner) }) }

// CreateProviderKey implements polydev.ProviderKeyStore.
func (c *Cached) CreateProviderKey(ctx context.Context, k *polydev.ProviderKey) error {
	defer c.forgetKeys(k.UserID)
	return c.Store.CreateProviderKey(ctx, k)
}

// UpdateProviderKey implements polydev.ProviderKeyStore.
func (c *Cached) UpdateProviderKey(ctx context.Context, k *polydev.ProviderKey) error {
	defer c.forgetKeys(k.UserID)
	return c.Store.UpdateProviderKey(ctx, k)
}

// DeleteProviderKey implements polydev.ProviderKeyStore.
func (c *Cached) DeleteProviderKey(ctx context.Context, owner, id string) error {
	defer c.forgetKeys(owner)
	return c.Store.DeleteProviderKey(ctx, owner, id)
}

// ResetProviderKeyUsage implements polydev.ProviderKeyStore.
func (c *Cached) ResetProviderKeyUsage(ctx context.Context, owner, id string, at time.Time) error {
	defer c.forgetKeys(owner)
	return c.Store.ResetProviderKeyUsage(ctx, owner, id, at)
}

// ReorderProviderKeys implements polydev.ProviderKeyStore.
func (c *Cached) ReorderProviderKeys(ctx context.Context, owner string, ids []string, at time.Time) error {
	defer c.forgetKeys(owner)
	return c.Store.ReorderProviderKeys(ctx, owner, ids, at)
}

// ApplyBillingEvent implements polydev.BillingStore; the user's tier may change.
func (c *Cached) ApplyBillingEvent(ctx context.Context, ev polydev.BillingEvent, userID string,
	apply func(cur *polydev.Subscription) *polydev.Subscription) (polydev.TierChange, error) {
	ch, err := c.Store.ApplyBillingEvent(ctx, ev, userID, apply)
	c.forget(func() { delete(c.users, userID) })
	return ch, err
}

// ExpireGrace implements polydev.BillingStore; the user's tier may change.
func (c *Cached) ExpireGrace(ctx context.Context, userID string, now time.Time) (polydev.TierChange, error) {
	ch, err := c.Store.ExpireGrace(ctx, userID, now)
	c.forget(func() { delete(c.users, userID) })
	return ch, err
}
