package providerkeys

import (
	"context"
	"fmt"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
	"github.com/polydev/polydev/netguard"
)

// PrivateAccess says whose own keys may point at the operator's private upstreams
// (POLYDEV_ALLOW_PRIVATE_UPSTREAMS). Platform keys always may: the allow list is the operator's.
// A user's keys may only when their tier or their email is listed (POLYDEV_PRIVATE_UPSTREAMS_FOR);
// everyone else's keys reach public addresses only, so an account cannot use Polydev to call into
// the operator's network.
type PrivateAccess struct {
	tiers  map[polydev.Tier]bool
	emails map[string]bool
}

// ParsePrivateAccess reads a comma-separated list of tiers and emails ("" = nobody).
func ParsePrivateAccess(s string) (*PrivateAccess, error) {
	a := &PrivateAccess{tiers: map[polydev.Tier]bool{}, emails: map[string]bool{}}
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
		case polydev.Tier(strings.ToLower(v)).Valid():
			a.tiers[polydev.Tier(strings.ToLower(v))] = true
		case strings.Contains(v, "@"):
			e, err := auth.NormalizeEmail(v)
			if err != nil {
				return nil, fmt.Errorf("POLYDEV_PRIVATE_UPSTREAMS_FOR: %q: %s", v, polydev.ErrorMessage(err))
			}
			a.emails[e] = true
		default:
			return nil, fmt.Errorf("POLYDEV_PRIVATE_UPSTREAMS_FOR: %q is neither a tier (free, plus, pro, enterprise) nor an email", v)
		}
	}
	return a, nil
}

// Allows reports whether u's own keys may use the private-upstream allow list.
func (a *PrivateAccess) Allows(u *polydev.User) bool {
	return a != nil && u != nil && (a.tiers[u.Tier] || a.emails[u.Email])
}

// String describes the setting for start-up logs.
func (a *PrivateAccess) String() string {
	if a == nil || len(a.tiers)+len(a.emails) == 0 {
		return "platform keys only"
	}
	return fmt.Sprintf("platform keys, and users' keys for %d tiers and %d users", len(a.tiers), len(a.emails))
}

// GuardFor returns the destination policy for keys of owner ("" or PlatformOwner: the platform).
func (s *Service) GuardFor(ctx context.Context, owner string) (*netguard.Policy, error) {
	if owner == "" || owner == polydev.PlatformOwner {
		return s.Guard, nil
	}
	u, err := s.Store.UserByID(ctx, owner)
	if err != nil {
		return nil, err
	}
	if s.Private.Allows(u) {
		return s.Guard, nil
	}
	return s.Guard.PublicOnly(), nil
}
