package web

import (
	"net/http"

	"github.com/polydev/polydev"
)

type tierLimitsBody struct {
	TierLimits []*polydev.TierLimits `json:"tierLimits"`
}

func (s *Server) getTierLimits(w http.ResponseWriter, r *http.Request, _ *polydev.User) error {
	rows, err := s.store.ListTierLimits(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tierLimitsBody{rows})
}

// putTierLimits replaces the rows sent (whole rows, any subset of tiers). Every row is validated
// before any is written, and they are written in one transaction, so a bad request changes nothing.
func (s *Server) putTierLimits(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in tierLimitsBody
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if len(in.TierLimits) == 0 {
		return polydev.Errorf(polydev.EINVALID, "tierLimits must list at least one tier")
	}
	seen := map[polydev.Tier]bool{}
	now := s.now()
	for _, l := range in.TierLimits {
		if l == nil {
			return polydev.Errorf(polydev.EINVALID, "tierLimits entries must be objects")
		}
		if err := l.Validate(); err != nil {
			return err
		}
		if seen[l.Tier] {
			return polydev.Errorf(polydev.EINVALID, "tier %s is listed twice", l.Tier)
		}
		seen[l.Tier] = true
		l.UpdatedAt = now
	}
	if err := s.store.PutTierLimits(r.Context(), in.TierLimits); err != nil {
		return err
	}
	s.log.Info("tier limits changed", "request_id", requestIDFrom(r.Context()), "admin_id", u.ID, "tiers", len(in.TierLimits))
	return s.getTierLimits(w, r, u)
}
