package policy

import (
	"context"

	"github.com/polydev/polydev"
)

// GatewayEphemeral returns the function the gateway router asks, once per request, for the ephemeral
// mode of a user whose tier row it already holds (whether it is on, and strict).
func GatewayEphemeral(st Store) func(ctx context.Context, u *polydev.User, lim *polydev.TierLimits) (Ephemeral, error) {
	return func(ctx context.Context, u *polydev.User, lim *polydev.TierLimits) (Ephemeral, error) {
		set, err := st.UserSettings(ctx, u.ID)
		if err != nil {
			return Ephemeral{}, err
		}
		e := ResolveEphemeral(lim.Ephemeral, set.EphemeralMode)
		e.Strict = set.StrictEphemeral
		return e, nil
	}
}
