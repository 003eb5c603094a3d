// Package policy decides what a user's tier allows and what is in force for them: today, ephemeral
// mode (DESIGN.md section 4). It reads the tier table and the user's settings through the store and
// holds no HTTP, no SQL and no provider logic; the gateway and the HTTP handlers ask it.
package policy

import (
	"context"

	"github.com/polydev/polydev"
)

// EphemeralRequiresBYOK records the seed's rule that ephemeral mode runs on the user's own provider
// keys only: a request in ephemeral mode must never fall back to the platform's keys (the platform's
// provider accounts would then see content under the operator's name). The gateway's key choice
// enforces it; the settings API reports it.
const EphemeralRequiresBYOK = true

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
	return ResolveEphemeral(lim.Ephemeral, set.EphemeralMode), nil
}

// EffectiveEphemeral reports whether u is in ephemeral mode now. It costs two small reads (the tier
// row and the user's settings), so callers on the hot path call it once per request.
//
// In ephemeral mode: no message content may be stored anywhere (database, logs, error bodies, temp
// files, caches), only metadata (polydev.EphemeralConversation); and the request must use the
// user's own keys only (EphemeralRequiresBYOK), failing with a clear 403 when they have none for the
// provider. On error the caller must refuse the request rather than guess either mode.
func EffectiveEphemeral(ctx context.Context, st Store, u *polydev.User) (bool, error) {
	e, err := EphemeralFor(ctx, st, u)
	return e.On, err
}
