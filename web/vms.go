package web

import (
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/policy"
)

type createVMRequest struct {
	Type polydev.VMType `json:"type"`
}

// vmsActive counts the VMs that hold a slot of the caller's MaxVMs: every record not on its way out.
func vmsActive(vms []*polydev.VM) int64 {
	var n int64
	for _, v := range vms {
		if v.State != polydev.VMDeleted && v.State != polydev.VMFailed {
			n++
		}
	}
	return n
}

// createVM answers POST /api/vms {type}. Checks run cheapest and most permanent first: a bad type,
// then a tier without VMs (no controller would change that answer), then whether VM support is on.
// The count check here gives a clear early answer; the controller enforces the limit atomically.
func (s *Server) createVM(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in createVMRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if !in.Type.Valid() {
		return polydev.Errorf(polydev.EINVALID, "type must be \"browser\" or \"cli\"")
	}
	limits, err := s.store.TierLimitsFor(r.Context(), u.Tier)
	if err != nil {
		return err
	}
	if limits.MaxVMs <= 0 {
		return polydev.Errorf(polydev.EFORBIDDEN, "the %s tier does not include VMs; upgrade to a tier that does", u.Tier)
	}
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	mine, err := s.store.ListVMs(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if vmsActive(mine) >= limits.MaxVMs {
		return polydev.Errorf(polydev.EFORBIDDEN, "the %s tier allows at most %d VMs; delete one first", u.Tier, limits.MaxVMs)
	}
	v, err := s.vms.Create(r.Context(), u, in.Type)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

// vmID returns the path id, or ENOTFOUND for anything that cannot be a VM id.
func vmID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !polydev.ValidID(id) {
		return "", polydev.Errorf(polydev.ENOTFOUND, "VM not found")
	}
	return id, nil
}

// getVM answers GET /api/vms/{id} from the store, so it works with VM support off. Another user's
// id is the same 404 as a made-up one.
func (s *Server) getVM(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	id, err := vmID(r)
	if err != nil {
		return err
	}
	v, err := s.store.VMByID(r.Context(), u.ID, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// listVMs answers GET /api/vms: the caller's VMs, newest first.
func (s *Server) listVMs(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	vms, err := s.store.ListVMs(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"vms": vms})
}

// startVM answers POST /api/vms/{id}/start and stopVM POST /api/vms/{id}/stop; both need the
// controller and answer with the record.
// startVM refuses to start a VM beyond the tier's quota of running VMs: after a downgrade the
// VMs beyond it were stopped (policy.TierRules) and stay stopped until others are.
func (s *Server) startVM(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	id, err := vmID(r)
	if err != nil {
		return err
	}
	if _, err := s.store.VMByID(r.Context(), u.ID, id); err != nil {
		return err // another user's VM is the same 404 as a made-up one, before any quota talk
	}
	limits, err := s.store.TierLimitsFor(r.Context(), u.Tier)
	if err != nil {
		return err
	}
	mine, err := s.store.ListVMs(r.Context(), u.ID)
	if err != nil {
		return err
	}
	var running int64
	for _, v := range mine {
		if policy.Running(v.State) && v.ID != id {
			running++
		}
	}
	if running >= limits.MaxVMs {
		return polydev.Errorf(polydev.EFORBIDDEN, "the %s tier allows %d running VMs; stop one first", u.Tier, limits.MaxVMs)
	}
	return s.changeVM(w, r, func(c polydev.VMController, id string) (*polydev.VM, error) { return c.Start(r.Context(), u, id) })
}

func (s *Server) stopVM(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return s.changeVM(w, r, func(c polydev.VMController, id string) (*polydev.VM, error) { return c.Stop(r.Context(), u, id) })
}

func (s *Server) changeVM(w http.ResponseWriter, r *http.Request, change func(polydev.VMController, string) (*polydev.VM, error)) error {
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	id, err := vmID(r)
	if err != nil {
		return err
	}
	v, err := change(s.vms, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// deleteVM answers DELETE /api/vms/{id}. With VM support off it refuses rather than dropping the
// record: the record is what lets a controller reclaim the VM's resources later.
func (s *Server) deleteVM(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	id, err := vmID(r)
	if err != nil {
		return err
	}
	if err := s.vms.Delete(r.Context(), u, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type vmCountsJSON struct {
	Total   int                     `json:"total"`
	ByState map[polydev.VMState]int `json:"byState"`
	ByType  map[polydev.VMType]int  `json:"byType"`
}

type ipPoolJSON struct {
	CIDR      string `json:"cidr"`
	Total     int    `json:"total"`
	Available int    `json:"available"`
}

type hostMemJSON struct {
	TotalBytes     uint64 `json:"totalBytes"`
	AvailableBytes uint64 `json:"availableBytes"`
}

type systemStatsJSON struct {
	VMSupport bool         `json:"vmSupport"`
	Message   string       `json:"message,omitempty"` // why VM support is off
	VMs       vmCountsJSON `json:"vms"`
	IPPool    ipPoolJSON   `json:"ipPool"`
	Memory    *hostMemJSON `json:"memory"` // null where /proc/meminfo cannot be read
}

// systemStats answers GET /api/admin/system/stats: VMs by state and type, the IP pool and host
// memory. With VM support off the pool is zeros and the counts are whatever records exist.
func (s *Server) systemStats(w http.ResponseWriter, r *http.Request, _ *polydev.User) error {
	c, err := s.store.CountVMs(r.Context())
	if err != nil {
		return err
	}
	out := systemStatsJSON{VMs: vmCountsJSON{Total: c.Total, ByState: c.ByState, ByType: c.ByType}}
	if s.vms == nil {
		out.Message = polydev.ErrorMessage(polydev.ErrVMOff)
	} else {
		ps, err := s.vms.PoolStats(r.Context())
		if err != nil {
			return err
		}
		out.VMSupport = true
		out.IPPool = ipPoolJSON{CIDR: ps.CIDR, Total: ps.Total, Available: ps.Available}
	}
	if m, err := readMemInfo(memInfoPath); err == nil {
		out.Memory = &hostMemJSON{TotalBytes: m.total, AvailableBytes: m.available}
	} else {
		s.log.Debug("host memory unknown", "request_id", requestIDFrom(r.Context()), "err", err)
	}
	return writeJSON(w, http.StatusOK, out)
}
