package polydev

import (
	"context"
	"strings"
	"time"
)

// BYOKRule says whether a tier may, or must, use its own provider keys.
type BYOKRule string

const (
	BYOKUnavailable BYOKRule = "unavailable"
	BYOKAvailable   BYOKRule = "available"
	BYOKRequired    BYOKRule = "required"
)

// EphemeralRule says how ephemeral mode (no stored content) applies to a tier.
type EphemeralRule string

const (
	EphemeralUnavailable EphemeralRule = "unavailable"
	EphemeralOptIn       EphemeralRule = "opt_in"     // off by default, the user may turn it on
	EphemeralDefaultOn   EphemeralRule = "default_on" // on by default, the user may turn it off
	EphemeralForced      EphemeralRule = "forced"     // always on
)

// TierLimits is one row of the admin-editable tier table. A nil limit means unlimited.
type TierLimits struct {
	Tier              Tier          `json:"tier"`
	RequestsPerDay    *int64        `json:"requestsPerDay"`
	RequestsPerMinute *int64        `json:"requestsPerMinute"`
	AllowedModels     []string      `json:"allowedModels"` // empty = all; "provider/*" matches a provider
	BYOK              BYOKRule      `json:"byok"`
	Ephemeral         EphemeralRule `json:"ephemeral"`
	PlatformKeys      bool          `json:"platformKeys"` // may use the platform's provider keys
	MaxVMs            int64         `json:"maxVms"`
	UpdatedAt         time.Time     `json:"updatedAt"`
}

const (
	maxAllowedModels = 500
	maxModelNameLen  = 200
)

// Validate checks a row an admin wants to save.
func (l *TierLimits) Validate() error {
	if !l.Tier.Valid() {
		return Errorf(EINVALID, "tier %q is not one of free, plus, pro, enterprise", l.Tier)
	}
	for name, v := range map[string]*int64{"requestsPerDay": l.RequestsPerDay, "requestsPerMinute": l.RequestsPerMinute} {
		if v != nil && *v < 0 {
			return Errorf(EINVALID, "%s for tier %s must be null (unlimited) or >= 0", name, l.Tier)
		}
	}
	if l.MaxVMs < 0 {
		return Errorf(EINVALID, "maxVms for tier %s must be >= 0", l.Tier)
	}
	switch l.BYOK {
	case BYOKUnavailable, BYOKAvailable, BYOKRequired:
	default:
		return Errorf(EINVALID, "byok for tier %s must be unavailable, available or required", l.Tier)
	}
	switch l.Ephemeral {
	case EphemeralUnavailable, EphemeralOptIn, EphemeralDefaultOn, EphemeralForced:
	default:
		return Errorf(EINVALID, "ephemeral for tier %s must be unavailable, opt_in, default_on or forced", l.Tier)
	}
	if l.Ephemeral != EphemeralUnavailable && l.BYOK == BYOKUnavailable {
		return Errorf(EINVALID, "tier %s: ephemeral mode requires BYOK, so byok cannot be unavailable", l.Tier)
	}
	if l.BYOK == BYOKRequired && l.PlatformKeys {
		return Errorf(EINVALID, "tier %s: platformKeys must be false when byok is required", l.Tier)
	}
	if len(l.AllowedModels) > maxAllowedModels {
		return Errorf(EINVALID, "tier %s: at most %d allowed models", l.Tier, maxAllowedModels)
	}
	for _, m := range l.AllowedModels {
		if !validModelPattern(m) {
			return Errorf(EINVALID, "tier %s: %q is not a model name (provider/model or provider/*)", l.Tier, m)
		}
	}
	return nil
}

func validModelPattern(m string) bool {
	if m == "" || len(m) > maxModelNameLen || strings.Count(m, "*") > 1 || strings.Contains(m, "*") && !strings.HasSuffix(m, "/*") {
		return false
	}
	for _, c := range m {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-_./:*@", c)) {
			return false
		}
	}
	return true
}

// AllowsModel reports whether the tier may use model ("provider/model").
func (l *TierLimits) AllowsModel(model string) bool {
	if len(l.AllowedModels) == 0 {
		return true
	}
	for _, p := range l.AllowedModels {
		if p == model || strings.HasSuffix(p, "/*") && strings.HasPrefix(model, p[:len(p)-1]) {
			return true
		}
	}
	return false
}

// TierStore persists the tier table. Migrations seed one row per tier.
type TierStore interface {
	// ListTierLimits returns every tier's row in tier order.
	ListTierLimits(ctx context.Context) ([]*TierLimits, error)
	// TierLimitsFor returns one tier's row; ENOTFOUND if missing.
	TierLimitsFor(ctx context.Context, t Tier) (*TierLimits, error)
	// PutTierLimits replaces the given rows in one transaction: all or nothing.
	PutTierLimits(ctx context.Context, rows []*TierLimits) error
}

// Store is everything Polydev persists. One implementation per SQL engine, all held to one test suite
// (store/storetest).
type Store interface {
	UserStore
	SessionStore
	TokenStore
	MailTokenStore
	TierStore
	ProviderKeyStore
	DataKeyStore
	PriceStore
	UsageStore
	LimitStore
	UserDataStore
	VMStore
	CLIStatusStore
	BillingStore
	AuthSessionStore
	// Engine names the SQL engine: "sqlite" or "postgres".
	Engine() string
	Ping(ctx context.Context) error
	Close() error
}
