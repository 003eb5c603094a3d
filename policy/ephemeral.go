// Package policy decides what a user's tier allows and what is in force for them: today, ephemeral
// mode (DESIGN.md section 4). It reads the tier table and the user's settings through the store and
// holds no HTTP, no SQL and no provider logic; the gateway and the HTTP handlers ask it.
package policy

import (
	"context"

	"github.com/polydev/polydev"
)

// Ephemeral mode and keys, the seed's rule ("ephemeralEnabled && hasBYOK", DESIGN.md §4): ephemeral
// mode applies to requests served with the user's own provider keys. A request for which the user
// has no key of their own is served with a platform key where the tier allows those, and then its
// conversation is stored (encrypted) like any other: the platform's provider accounts see the
// content under the operator's name, so nothing about it can be ephemeral. Every such response says
// so (the gateway's X-Polydev-Ephemeral header). A user who prefers a refusal turns on strict
// ephemeral mode; tiers that require the user's own keys (enterprise) refuse anyway. The gateway's
// key choice (gateway/router) enforces this; the settings API reports it.

// Store is what this package reads. polydev.Store satisfies it.
type Store interface {
	TierLimitsFor(ctx context.Context, t polydev.Tier) (*polydev.TierLimits, error)
	UserSettings(ctx context.Context, userID string) (*polydev.UserSettings, error)
}

// Ephemeral is the ephemeral mode of one user: the tier's rule, the user's own choice, and what is
// in force as a result.
type Ephemeral struct {
	Rule      polydev.EphemeralRule
	Default   bool  // what the rule gives a user who never chose
	Choice    *bool // the user's stored choice; nil = the default
	On        bool  // in force now
	CanChange bool  // the user may switch it (opt_in and default_on)
	// Strict: requests without a key of the user's own are refused rather than served, and stored,
	// with a platform key (the user's setting; it matters only while On).
	Strict bool
}

// ResolveEphemeral applies rule to a stored choice. Forced is on and unavailable is off whatever was
// chosen (a choice made on another tier does not survive a tier change that forbids it); an unknown
// rule counts as unavailable, which TierLimits.Validate never lets an admin save.
func ResolveEphemeral(rule polydev.EphemeralRule, choice *bool) Ephemeral {
	e := Ephemeral{Rule: rule, Choice: choice}
	switch rule {
	case polydev.EphemeralForced:
		e.Default, e.On = true, true
	case polydev.EphemeralDefaultOn, polydev.EphemeralOptIn:
		e.Default, e.CanChange = rule == polydev.EphemeralDefaultOn, true
		e.On = e.Default
		if choice != nil {
			e.On = *choice
		}
	}
	return e
}

// CheckStrictChoice refuses turning strict ephemeral mode on where ephemeral mode is not available.
func CheckStrictChoice(tier polydev.Tier, rule polydev.EphemeralRule, strict bool) error {
	if strict && rule != polydev.EphemeralOptIn && rule != polydev.EphemeralDefaultOn && rule != polydev.EphemeralForced {
		return polydev.Errorf(polydev.EFORBIDDEN, "ephemeral mode is not available on the %s tier, so neither is strict ephemeral; upgrade to plus or higher", tier)
	}
	return nil
}

// CheckEphemeralChoice refuses a choice the tier's rule does not allow: turning ephemeral mode on
// where it is unavailable, or off where it is forced. Choosing what the rule imposes anyway is allowed.
func CheckEphemeralChoice(tier polydev.Tier, rule polydev.EphemeralRule, on bool) error {
	switch {
	case on && rule != polydev.EphemeralOptIn && rule != polydev.EphemeralDefaultOn && rule != polydev.EphemeralForced:
		return polydev.Errorf(polydev.EFORBIDDEN, "ephemeral mode is not available on the %s tier; upgrade to plus or higher", tier)
	case !on && rule == polydev.EphemeralForced:
		return polydev.Errorf(polydev.EFORBIDDEN, "ephemeral mode is always on for the %s tier and cannot be turned off", tier)
	}
	return nil
}

// EphemeralFor returns the ephemeral mode of u: their tier's rule applied to their stored choice.
func EphemeralFor(ctx context.Context, st Store, u *polydev.User) (Ephemeral, error) {
	lim, err := st.TierLimitsFor(ctx, u.Tier)
	if err != nil {
		return Ephemeral{}, err
	}
	set, err := st.UserSettings(ctx, u.ID)
	if err != nil {
		return Ephemeral{}, err
	}
	e := ResolveEphemeral(lim.Ephemeral, set.EphemeralMode)
	e.Strict = set.StrictEphemeral
	return e, nil
}

// EffectiveEphemeral reports whether u is in ephemeral mode now. It costs two small reads (the tier
// row and the user's settings), so callers on the hot path call it once per request.
//
// In ephemeral mode, for a request served with the user's own key: no message content may be
// stored anywhere (database, logs, error bodies, temp files, caches), only metadata
// (polydev.EphemeralConversation). Served with a platform key, the request is not ephemeral (see
// the rule above); the gateway's call says which applied. On error the caller must refuse the
// request rather than guess either mode.
func EffectiveEphemeral(ctx context.Context, st Store, u *polydev.User) (bool, error) {
	e, err := EphemeralFor(ctx, st, u)
	return e.On, err
}
