package policy

import (
	"context"

	"github.com/polydev/polydev"
)

// GatewayEphemeral returns the function the gateway router asks, once per request, whether ephemeral
// mode is in force for a user whose tier row it already holds.
func GatewayEphemeral(st Store) func(ctx context.Context, u *polydev.User, lim *polydev.TierLimits) (bool, error) {
	return func(ctx context.Context, u *polydev.User, lim *polydev.TierLimits) (bool, error) {
		set, err := st.UserSettings(ctx, u.ID)
		if err != nil {
			return false, err
		}
		return ResolveEphemeral(lim.Ephemeral, set.EphemeralMode).On, nil
	}
}
