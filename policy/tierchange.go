package policy

import (
	"context"
	"log/slog"
	"slices"

	"github.com/polydev/polydev"
)

// A tier change takes effect at once (DESIGN.md §4). Most of a tier's rules are read on every
// request, so they need nothing here: ephemeral mode is the new tier's rule applied to the user's
// choice (ResolveEphemeral), and the gateway uses the user's own keys only where the new tier allows
// them (listings show the keys it no longer uses: KeysInUse). What outlives a request is a running
// VM: TierRules stops the ones beyond the new tier's quota.

// VMRunner is the part of polydev.VMController TierRules needs.
type VMRunner interface {
	Stop(ctx context.Context, u *polydev.User, id string) (*polydev.VM, error)
}

// TierRules applies a user's tier to what they already have.
type TierRules struct {
	Store interface {
		UserByID(ctx context.Context, id string) (*polydev.User, error)
		TierLimitsFor(ctx context.Context, t polydev.Tier) (*polydev.TierLimits, error)
		ListVMs(ctx context.Context, userID string) ([]*polydev.VM, error)
	}
	VMs VMRunner // nil: VM support is off, nothing runs
	Log *slog.Logger
}

// Running reports whether a VM in state st uses a running slot.
func Running(st polydev.VMState) bool {
	return st == polydev.VMCreated || st == polydev.VMStarting || st == polydev.VMRunning
}

// Apply enforces userID's current tier: running VMs beyond its maxVms are stopped, the least
// recently used first (stopped VMs keep their disks; the user may delete some and start others).
// It returns how many VMs it stopped.
func (r *TierRules) Apply(ctx context.Context, userID string) (int, error) {
	u, err := r.Store.UserByID(ctx, userID)
	if err != nil {
		return 0, err
	}
	lim, err := r.Store.TierLimitsFor(ctx, u.Tier)
	if err != nil {
		return 0, err
	}
	if r.VMs == nil {
		return 0, nil
	}
	vms, err := r.Store.ListVMs(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	running := slices.DeleteFunc(vms, func(v *polydev.VM) bool { return !Running(v.State) })
	if int64(len(running)) <= lim.MaxVMs {
		return 0, nil
	}
	slices.SortStableFunc(running, func(a, b *polydev.VM) int { return b.LastActivityAt.Compare(a.LastActivityAt) })
	stopped := 0
	for _, v := range running[max(lim.MaxVMs, 0):] {
		if _, err := r.VMs.Stop(ctx, u, v.ID); err != nil {
			r.Log.Warn("tier change: VM beyond the quota not stopped", "service", "tier-rules", "user_id", u.ID, "vm_id", v.ID, "err", err)
			continue
		}
		stopped++
		r.Log.Info("tier change: VM beyond the quota stopped", "service", "tier-rules", "user_id", u.ID, "vm_id", v.ID, "tier", u.Tier, "max_vms", lim.MaxVMs)
	}
	return stopped, nil
}

// KeysInUse reports whether the gateway uses a user's own keys on their tier, and if not, why: the
// keys stay stored (the user may upgrade again or delete them) but no request uses them.
func KeysInUse(tier polydev.Tier, lim *polydev.TierLimits) (bool, string) {
	if lim.BYOK == polydev.BYOKUnavailable {
		return false, "not used: the " + string(tier) + " tier does not use your own keys; upgrade to plus or higher to use it again"
	}
	return true, ""
}
