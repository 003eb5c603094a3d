package ui

import (
	"net/http"

	"github.com/polydev/polydev"
)

type vmsData struct {
	VMs    []*polydev.VM
	On     bool // VM support is on in this server
	MaxVMs int64
}

func (u *UI) vms(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	list, err := u.api.Store.ListVMs(ctx, v.User.ID)
	if err != nil {
		return err
	}
	lim, err := u.api.Store.TierLimitsFor(ctx, v.User.Tier)
	if err != nil {
		return err
	}
	d := &vmsData{On: u.api.VMs != nil, MaxVMs: lim.MaxVMs}
	for _, vm := range list {
		if vm.State != polydev.VMDeleted {
			d.VMs = append(d.VMs, vm)
		}
	}
	v.Title, v.Nav, v.Data = "VMs", "vms", d
	return u.render(w, r, "vms", v)
}
