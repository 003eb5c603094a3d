package polydev

import (
	"context"
	"sync/atomic"
	"time"
)

// Provider names an upstream API family.
type Provider string

const (
	ProviderOpenAI           Provider = "openai"
	ProviderAnthropic        Provider = "anthropic"
	ProviderGemini           Provider = "gemini"
	ProviderOpenAICompatible Provider = "openai-compatible" // Ollama, vLLM, llama.cpp, ... at a configured base URL
)

// Providers lists every provider.
var Providers = []Provider{ProviderOpenAI, ProviderAnthropic, ProviderGemini, ProviderOpenAICompatible}

// Valid reports whether p is a known provider.
func (p Provider) Valid() bool {
	for _, v := range Providers {
		if p == v {
			return true
		}
	}
	return false
}

// PlatformOwner is the owner id under which platform (admin-managed) secrets are encrypted.
const PlatformOwner = "platform"

// ProviderKey is an upstream API key: a user's own (BYOK, UserID set) or the platform's (UserID empty).
// The key itself is only ever held encrypted (Secret, a vault envelope sealed with the owner's data
// key); Preview is its last four characters.
type ProviderKey struct {
	ID            string
	UserID        string // "" for platform keys
	Provider      Provider
	Name          string
	Secret        []byte // vault envelope; never serialised
	DEKVersion    int    // version of the owner's data key that sealed Secret
	Preview       string
	BaseURL       string // "" = the provider's default
	MonthlyBudget *Money // nil = no budget
	DailyLimit    *int64 // requests per day; nil = none
	RateLimitRPM  *int64 // requests per minute; nil = none
	MaxConcurrent *int64 // requests in flight at once; nil = none
	Priority      int64  // lower goes first
	Active        bool
	Usage         KeyUsage
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Owner is the vault owner id of the key's secret.
func (k *ProviderKey) Owner() string {
	if k.UserID == "" {
		return PlatformOwner
	}
	return k.UserID
}

// KeyUsage is what a key has been used for. Month and Day say which period the period counters belong
// to; a counter of a past period reads as zero.
type KeyUsage struct {
	Month         string // "2026-11" (UTC)
	MonthSpend    Money
	Day           string // "2026-11-27" (UTC)
	DayRequests   int64
	TotalRequests int64
	InputTokens   int64
	OutputTokens  int64
	TotalSpend    Money
	LastUsedAt    *time.Time
}

// Period keys for usage counters: "2026-11" and "2026-11-27" (UTC). Every gateway request asks
// for both, so the last day's strings are kept instead of formatted each time.
func MonthOf(t time.Time) string { return period(t).month }
func DayOf(t time.Time) string   { return period(t).day }

type periodKeys struct {
	unixDay    int64
	month, day string
}

var lastPeriod atomic.Pointer[periodKeys]

func period(t time.Time) *periodKeys {
	u := t.Unix()
	d := u / 86400
	if u < 0 && u%86400 != 0 {
		d-- // floor: before 1970 a day starts at a negative multiple
	}
	if p := lastPeriod.Load(); p != nil && p.unixDay == d {
		return p
	}
	day := t.UTC().Format("2006-01-02")
	p := &periodKeys{unixDay: d, month: day[:len(day)-3], day: day}
	lastPeriod.Store(p)
	return p
}

// SpendThisMonth returns the spend counted in now's month.
func (u *KeyUsage) SpendThisMonth(now time.Time) Money {
	if u.Month != MonthOf(now) {
		return 0
	}
	return u.MonthSpend
}

// RequestsToday returns the requests counted on now's day.
func (u *KeyUsage) RequestsToday(now time.Time) int64 {
	if u.Day != DayOf(now) {
		return 0
	}
	return u.DayRequests
}

// Available reports whether the key may serve a request now: active, under its monthly budget and
// under its daily request limit. (Rate limits are enforced by the gateway's limiter.)
func (k *ProviderKey) Available(now time.Time) bool {
	if !k.Active {
		return false
	}
	if k.MonthlyBudget != nil && k.Usage.SpendThisMonth(now) >= *k.MonthlyBudget {
		return false
	}
	if k.DailyLimit != nil && k.Usage.RequestsToday(now) >= *k.DailyLimit {
		return false
	}
	return true
}

// ProviderKeyStore persists provider keys. owner is a user id, or "" for platform keys; every method
// is scoped by it, so one owner can never reach another's keys.
type ProviderKeyStore interface {
	CreateProviderKey(ctx context.Context, k *ProviderKey) error
	// ProviderKeyFor returns ENOTFOUND unless key id belongs to owner.
	ProviderKeyFor(ctx context.Context, owner, id string) (*ProviderKey, error)
	// ListProviderKeys returns owner's keys by provider, then priority, then creation.
	ListProviderKeys(ctx context.Context, owner string) ([]*ProviderKey, error)
	// UpdateProviderKey saves the mutable fields (name, secret, settings) of owner's key.
	UpdateProviderKey(ctx context.Context, k *ProviderKey) error
	DeleteProviderKey(ctx context.Context, owner, id string) error
	ResetProviderKeyUsage(ctx context.Context, owner, id string, at time.Time) error
	// ReorderProviderKeys sets priorities 0, 1, 2, ... in the order of ids, all of which must be
	// owner's; otherwise nothing changes and the error is ENOTFOUND.
	ReorderProviderKeys(ctx context.Context, owner string, ids []string, at time.Time) error
}

// DataKey is an owner's data encryption key, stored only wrapped by a master key (KEK).
type DataKey struct {
	OwnerID    string
	Version    int // the DEK's own version (values record it); 1 until DEKs are replaced
	Wrapped    []byte
	KEKVersion int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// DataKeyStore persists wrapped data keys.
type DataKeyStore interface {
	// DataKey returns ENOTFOUND when owner has none yet.
	DataKey(ctx context.Context, owner string) (*DataKey, error)
	// CreateDataKey inserts k; ECONFLICT if owner already has one (a concurrent first write won).
	CreateDataKey(ctx context.Context, k *DataKey) error
	// DataKeysBefore lists up to limit keys wrapped with a KEK older than kekVersion, owner ids after
	// `after`, in owner order (so a rewrap can page and resume).
	DataKeysBefore(ctx context.Context, kekVersion int, after string, limit int) ([]*DataKey, error)
	// SwapDataKey replaces owner's wrapped key only if it is still wrapped with oldKEK
	// (compare-and-set); it reports whether it did.
	SwapDataKey(ctx context.Context, owner string, oldKEK int, wrapped []byte, newKEK int, at time.Time) (bool, error)
	// CountDataKeysByKEK returns how many data keys each KEK version wraps.
	CountDataKeysByKEK(ctx context.Context) (map[int]int, error)
}
