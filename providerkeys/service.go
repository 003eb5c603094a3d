// Package providerkeys manages upstream provider keys, a user's own (BYOK) and the platform's: it
// validates what users and admins send, seals the key with the owner's data key before it is stored,
// checks base URLs against the SSRF policy, and decrypts a key only when the gateway needs it. It holds
// no HTTP and no SQL.
package providerkeys

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/vault"
)

// MaxKeysPerOwner bounds how many keys one owner (a user, or the platform) may hold.
const MaxKeysPerOwner = 100

// Service is the provider key service.
type Service struct {
	Store polydev.Store
	Vault *vault.Vault
	Guard *netguard.Policy // the operator's: platform keys, and users' keys that Private allows
	// Private says whose own keys may use Guard's private allow list; nil = nobody's.
	Private *PrivateAccess
	Now     func() time.Time
}

// Input is a key's settings as sent by a client. On create every present field is used; on update
// only present fields change, and null clears an optional limit.
type Input struct {
	Provider      Opt[polydev.Provider] `json:"provider"`
	KeyName       Opt[string]           `json:"keyName"`
	APIKey        Opt[string]           `json:"apiKey"`
	BaseURL       Opt[string]           `json:"baseUrl"`
	MonthlyBudget Opt[polydev.Money]    `json:"monthlyBudget"`
	DailyLimit    Opt[int64]            `json:"dailyLimit"`
	RateLimitRPM  Opt[int64]            `json:"rateLimitRpm"`
	PriorityOrder Opt[int64]            `json:"priorityOrder"`
	Active        Opt[bool]             `json:"active"`
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return polydev.Now()
}

// aad binds a key's ciphertext to its row and owner.
func aad(id string) vault.AAD {
	return vault.AAD{Table: "provider_keys", Column: "secret", RowID: id}
}

// Create validates in and stores a new key for owner (a user id, or "" for the platform).
func (s *Service) Create(ctx context.Context, owner string, in Input) (*polydev.ProviderKey, error) {
	if !in.Provider.Set || in.Provider.Value == nil {
		return nil, polydev.Errorf(polydev.EINVALID, "provider is required: one of openai, anthropic, gemini, openai-compatible")
	}
	if !in.APIKey.Set || in.APIKey.Value == nil {
		return nil, polydev.Errorf(polydev.EINVALID, "apiKey is required")
	}
	existing, err := s.Store.ListProviderKeys(ctx, owner)
	if err != nil {
		return nil, err
	}
	if len(existing) >= MaxKeysPerOwner {
		return nil, polydev.Errorf(polydev.EINVALID, "at most %d keys; delete one first", MaxKeysPerOwner)
	}
	now := s.now()
	k := &polydev.ProviderKey{ID: polydev.NewID(), UserID: owner, Provider: *in.Provider.Value, Active: true, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(ctx, k, in, true); err != nil {
		return nil, err
	}
	if err := s.Store.CreateProviderKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// Update applies the present fields of in to owner's key id. A request without apiKey never touches
// the stored key.
func (s *Service) Update(ctx context.Context, owner, id string, in Input) (*polydev.ProviderKey, error) {
	if !polydev.ValidID(id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "key not found")
	}
	k, err := s.Store.ProviderKeyFor(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if in.Provider.Set && (in.Provider.Value == nil || *in.Provider.Value != k.Provider) {
		return nil, polydev.Errorf(polydev.EINVALID, "provider cannot be changed; add a new key instead")
	}
	if err := s.apply(ctx, k, in, false); err != nil {
		return nil, err
	}
	k.UpdatedAt = s.now()
	if err := s.Store.UpdateProviderKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// apply validates and copies in's present fields onto k, sealing a new API key.
func (s *Service) apply(ctx context.Context, k *polydev.ProviderKey, in Input, creating bool) error {
	if !k.Provider.Valid() {
		return polydev.Errorf(polydev.EINVALID, "provider %q is not one of openai, anthropic, gemini, openai-compatible", k.Provider)
	}
	if in.KeyName.Set || creating {
		name := ""
		if in.KeyName.Value != nil {
			name = strings.TrimSpace(*in.KeyName.Value)
		}
		if name == "" {
			if !creating {
				return polydev.Errorf(polydev.EINVALID, "keyName cannot be empty")
			}
			name = string(k.Provider) + " key"
		}
		if utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, isControl) {
			return polydev.Errorf(polydev.EINVALID, "keyName must be at most 100 printable characters")
		}
		k.Name = name
	}
	if in.BaseURL.Set {
		raw := ""
		if in.BaseURL.Value != nil {
			raw = strings.TrimSpace(*in.BaseURL.Value)
		}
		if raw != "" {
			guard, err := s.GuardFor(ctx, k.UserID)
			if err != nil {
				return err
			}
			u, err := guard.CheckURLContext(ctx, raw)
			if err != nil {
				return polydev.Wrap(polydev.EINVALID, err, "baseUrl refused: %s", netguardReason(err))
			}
			raw = strings.TrimRight(u.String(), "/")
		}
		k.BaseURL = raw
	}
	if k.Provider == polydev.ProviderOpenAICompatible && k.BaseURL == "" {
		return polydev.Errorf(polydev.EINVALID, "baseUrl is required for openai-compatible keys")
	}
	if in.MonthlyBudget.Set {
		k.MonthlyBudget = in.MonthlyBudget.Value
	}
	for _, f := range []struct {
		name string
		in   Opt[int64]
		dst  **int64
	}{{"dailyLimit", in.DailyLimit, &k.DailyLimit}, {"rateLimitRpm", in.RateLimitRPM, &k.RateLimitRPM}} {
		if !f.in.Set {
			continue
		}
		if f.in.Value != nil && (*f.in.Value < 0 || *f.in.Value > 1_000_000_000) {
			return polydev.Errorf(polydev.EINVALID, "%s must be null (no limit) or between 0 and 1000000000", f.name)
		}
		*f.dst = f.in.Value
	}
	if in.PriorityOrder.Set {
		if in.PriorityOrder.Value == nil || *in.PriorityOrder.Value < 0 || *in.PriorityOrder.Value > 1_000_000 {
			return polydev.Errorf(polydev.EINVALID, "priorityOrder must be between 0 and 1000000")
		}
		k.Priority = *in.PriorityOrder.Value
	}
	if in.Active.Set {
		if in.Active.Value == nil {
			return polydev.Errorf(polydev.EINVALID, "active must be true or false")
		}
		k.Active = *in.Active.Value
	}
	if in.APIKey.Set {
		if in.APIKey.Value == nil {
			return polydev.Errorf(polydev.EINVALID, "apiKey cannot be null; omit it to keep the stored key")
		}
		secret := strings.TrimSpace(*in.APIKey.Value)
		if err := checkAPIKey(secret, k.Preview); err != nil {
			return err
		}
		env, dekVersion, err := s.Vault.Seal(ctx, k.Owner(), aad(k.ID), []byte(secret))
		if err != nil {
			return err
		}
		k.Secret, k.DEKVersion, k.Preview = env, dekVersion, secret[len(secret)-4:]
	}
	return nil
}

// checkAPIKey refuses what cannot be a provider key, and in particular a masked preview sent back by a
// form, which must never overwrite the real key.
func checkAPIKey(secret, preview string) error {
	if len(secret) < 8 || len(secret) > 1024 {
		return polydev.Errorf(polydev.EINVALID, "apiKey must be 8 to 1024 characters")
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; c <= ' ' || c >= 0x7f {
			return polydev.Errorf(polydev.EINVALID, "apiKey must be printable ASCII without spaces")
		}
	}
	if strings.Contains(secret, "...") || strings.Contains(secret, "***") || (preview != "" && secret == preview) {
		return polydev.Errorf(polydev.EINVALID, "apiKey looks like a masked preview; send the full key, or omit apiKey to keep the stored one")
	}
	return nil
}

// Secret decrypts a key's API key for an upstream call. Callers must never log or return it.
func (s *Service) Secret(ctx context.Context, k *polydev.ProviderKey) (string, error) {
	b, err := s.Vault.Open(ctx, k.Owner(), aad(k.ID), k.Secret)
	if err != nil {
		return "", polydev.Wrap(polydev.EINTERNAL, err, "provider key could not be decrypted")
	}
	return string(b), nil
}

// NextAvailable returns owner's first key for provider, by priority, that is active and within its
// monthly budget and daily limit; ENOTFOUND when none is.
func (s *Service) NextAvailable(ctx context.Context, owner string, provider polydev.Provider) (*polydev.ProviderKey, error) {
	keys, err := s.Store.ListProviderKeys(ctx, owner)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, k := range keys { // already ordered by provider, priority, creation
		if k.Provider == provider && k.Available(now) {
			return k, nil
		}
	}
	return nil, polydev.Errorf(polydev.ENOTFOUND, "no available %s key: all are inactive, over budget or over their daily limit", provider)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// netguardReason is the client-safe text of a netguard refusal: the host as typed and why, never
// credentials, path or query, nor the address a name resolved to, nor the resolver's own error (it
// names the resolver's address).
func netguardReason(err error) string {
	if b, ok := errors.AsType[*netguard.BlockedError](err); ok {
		return b.ClientMessage()
	}
	return "its host name could not be resolved to a public address"
}
