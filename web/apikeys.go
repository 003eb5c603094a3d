package web

import (
	"context"
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/policy"
	"github.com/polydev/polydev/providerkeys"
)

// keyJSON is how a provider key is shown: settings, a four-character preview and usage, never the key.
type keyJSON struct {
	ID            string           `json:"id"`
	Provider      polydev.Provider `json:"provider"`
	KeyName       string           `json:"keyName"`
	KeyPreview    string           `json:"keyPreview"`
	BaseURL       string           `json:"baseUrl"`
	MonthlyBudget *polydev.Money   `json:"monthlyBudget"`
	DailyLimit    *int64           `json:"dailyLimit"`
	RateLimitRPM  *int64           `json:"rateLimitRpm"`
	PriorityOrder int64            `json:"priorityOrder"`
	Active        bool             `json:"active"`
	IsAdminKey    bool             `json:"isAdminKey"`
	Available     bool             `json:"available"` // active, under budget and daily limit right now
	// Unreadable: the stored key could not be decrypted (a tampered or moved ciphertext, a retired
	// master key). The gateway skips it, logging an ERROR; replace the key to use it again.
	Unreadable bool `json:"unreadable"`
	// Suspended says why the gateway does not use this key although it is stored and active: the
	// owner's tier does not use their own keys (a downgrade keeps the keys; see policy.KeysInUse).
	Suspended string    `json:"suspended,omitempty"`
	Usage     usageJSON `json:"usage"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

type usageJSON struct {
	CurrentMonthSpend polydev.Money `json:"currentMonthSpend"`
	RequestsToday     int64         `json:"requestsToday"`
	TotalRequests     int64         `json:"totalRequests"`
	InputTokens       int64         `json:"inputTokens"`
	OutputTokens      int64         `json:"outputTokens"`
	TotalSpend        polydev.Money `json:"totalSpend"`
	LastUsedAt        *time.Time    `json:"lastUsedAt"`
}

func toKeyJSON(k *polydev.ProviderKey, now time.Time) keyJSON {
	return keyJSON{
		ID: k.ID, Provider: k.Provider, KeyName: k.Name, KeyPreview: k.Preview, BaseURL: k.BaseURL,
		MonthlyBudget: k.MonthlyBudget, DailyLimit: k.DailyLimit, RateLimitRPM: k.RateLimitRPM, PriorityOrder: k.Priority,
		Active: k.Active, IsAdminKey: k.UserID == "", Available: k.Available(now),
		Usage: usageJSON{
			CurrentMonthSpend: k.Usage.SpendThisMonth(now), RequestsToday: k.Usage.RequestsToday(now),
			TotalRequests: k.Usage.TotalRequests, InputTokens: k.Usage.InputTokens, OutputTokens: k.Usage.OutputTokens,
			TotalSpend: k.Usage.TotalSpend, LastUsedAt: k.Usage.LastUsedAt,
		},
		CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt,
	}
}

// keysJSON shows keys in a listing, each checked for whether it still decrypts (the DEK is cached,
// so this costs one AES-GCM open per key; the plaintext is dropped at once).
func (s *Server) keysJSON(ctx context.Context, keys []*polydev.ProviderKey) []keyJSON {
	now := s.now()
	out := make([]keyJSON, len(keys))
	for i, k := range keys {
		out[i] = toKeyJSON(k, now)
		if s.keys != nil {
			if _, err := s.keys.Secret(ctx, k); err != nil {
				out[i].Unreadable, out[i].Available = true, false
			}
		}
	}
	return out
}

// requireBYOK enforces the tier rule: BYOK keys can be added or changed only on tiers that allow them.
func (s *Server) requireBYOK(r *http.Request, u *polydev.User) error {
	lim, err := s.store.TierLimitsFor(r.Context(), u.Tier)
	if err != nil {
		return err
	}
	if lim.BYOK == polydev.BYOKUnavailable {
		return polydev.Errorf(polydev.EFORBIDDEN, "bring-your-own-key is not available on the %s tier; upgrade to plus or higher", u.Tier)
	}
	return nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	keys, err := s.store.ListProviderKeys(r.Context(), u.ID)
	if err != nil {
		return err
	}
	out := s.keysJSON(r.Context(), keys)
	lim, err := s.store.TierLimitsFor(r.Context(), u.Tier)
	if err != nil {
		return err
	}
	if ok, why := policy.KeysInUse(u.Tier, lim); !ok {
		for i := range out {
			out[i].Available, out[i].Suspended = false, why
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in providerkeys.Input
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.requireBYOK(r, u); err != nil {
		return err
	}
	k, err := s.keys.Create(r.Context(), u.ID, in)
	if err != nil {
		return err
	}
	s.log.Info("byok key added", "request_id", requestIDFrom(r.Context()), "key_id", k.ID, "provider", k.Provider)
	return writeJSON(w, http.StatusCreated, map[string]any{"key": toKeyJSON(k, s.now())})
}

func (s *Server) updateAPIKey(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in providerkeys.Input
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.requireBYOK(r, u); err != nil {
		return err
	}
	k, err := s.keys.Update(r.Context(), u.ID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"key": toKeyJSON(k, s.now())})
}

// deleteAPIKey works on any tier, so a user who downgraded can still remove their keys.
func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id := r.PathValue("id")
	if !polydev.ValidID(id) {
		return polydev.Errorf(polydev.ENOTFOUND, "key not found")
	}
	if err := s.store.DeleteProviderKey(r.Context(), u.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
