package web

import (
	"encoding/json"
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/policy"
)

// settingsJSON is GET /api/security/settings: what is in force, the tier's rule, and whether the user
// may change it.
type settingsJSON struct {
	Tier               polydev.Tier          `json:"tier"`
	EphemeralMode      bool                  `json:"ephemeralMode"` // in force now
	EphemeralDefault   bool                  `json:"ephemeralDefault"`
	EphemeralRule      polydev.EphemeralRule `json:"ephemeralRule"`
	EphemeralCanChange bool                  `json:"ephemeralCanChange"`
	// EphemeralRequiresBYOK: a request without a key of the user's own is refused (strict ephemeral,
	// or a tier that requires own keys) rather than served with a platform key and stored.
	EphemeralRequiresBYOK bool `json:"ephemeralRequiresByok"`
	StrictEphemeral       bool `json:"strictEphemeral"` // the user's setting
	BYOKConfigured        bool `json:"byokConfigured"`  // the user has an active key of their own
	ClientSideStorage     bool `json:"clientSideStorage"`
}

func (s *Server) getSecuritySettings(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	out, err := s.securitySettings(r, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) securitySettings(r *http.Request, u *polydev.User) (*settingsJSON, error) {
	ctx := r.Context()
	lim, err := s.store.TierLimitsFor(ctx, u.Tier)
	if err != nil {
		return nil, err
	}
	set, err := s.store.UserSettings(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	keys, err := s.store.ListProviderKeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	byok := false
	for _, k := range keys {
		byok = byok || k.Active
	}
	eph := policy.ResolveEphemeral(lim.Ephemeral, set.EphemeralMode)
	return &settingsJSON{
		Tier: u.Tier, EphemeralMode: eph.On, EphemeralDefault: eph.Default, EphemeralRule: eph.Rule, EphemeralCanChange: eph.CanChange,
		EphemeralRequiresBYOK: set.StrictEphemeral || lim.BYOK == polydev.BYOKRequired, StrictEphemeral: set.StrictEphemeral,
		BYOKConfigured: byok, ClientSideStorage: set.ClientSideStorage,
	}, nil
}

// settingsInput is PUT /api/security/settings. Fields are kept raw so that absent, null and a value
// can be told apart: ephemeralMode null goes back to the tier's default.
type settingsInput struct {
	EphemeralMode     json.RawMessage `json:"ephemeralMode"`
	ClientSideStorage json.RawMessage `json:"clientSideStorage"`
	StrictEphemeral   json.RawMessage `json:"strictEphemeral"`
}

// strictBool reads a JSON true or false, nothing else.
func strictBool(raw json.RawMessage, field string, nullable bool) (*bool, error) {
	switch string(raw) {
	case "true", "false":
		v := string(raw) == "true"
		return &v, nil
	case "null":
		if nullable {
			return nil, nil
		}
	}
	if nullable {
		return nil, polydev.Errorf(polydev.EINVALID, "%s must be true, false or null (the tier's default)", field)
	}
	return nil, polydev.Errorf(polydev.EINVALID, "%s must be true or false", field)
}

// putSecuritySettings changes the fields sent, within the tier's rules. Every field is checked
// before anything is written, so a refused request changes nothing.
func (s *Server) putSecuritySettings(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in settingsInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.EphemeralMode == nil && in.ClientSideStorage == nil && in.StrictEphemeral == nil {
		return polydev.Errorf(polydev.EINVALID, "nothing to change: send ephemeralMode, strictEphemeral and/or clientSideStorage")
	}
	ctx := r.Context()
	set, err := s.store.UserSettings(ctx, u.ID)
	if err != nil {
		return err
	}
	next := *set
	if in.EphemeralMode != nil {
		v, err := strictBool(in.EphemeralMode, "ephemeralMode", true)
		if err != nil {
			return err
		}
		if v != nil {
			lim, err := s.store.TierLimitsFor(ctx, u.Tier)
			if err != nil {
				return err
			}
			if err := policy.CheckEphemeralChoice(u.Tier, lim.Ephemeral, *v); err != nil {
				return err
			}
		}
		next.EphemeralMode = v
	}
	if in.ClientSideStorage != nil {
		v, err := strictBool(in.ClientSideStorage, "clientSideStorage", false)
		if err != nil {
			return err
		}
		next.ClientSideStorage = *v
	}
	if in.StrictEphemeral != nil {
		v, err := strictBool(in.StrictEphemeral, "strictEphemeral", false)
		if err != nil {
			return err
		}
		lim, err := s.store.TierLimitsFor(ctx, u.Tier)
		if err != nil {
			return err
		}
		if err := policy.CheckStrictChoice(u.Tier, lim.Ephemeral, *v); err != nil {
			return err
		}
		next.StrictEphemeral = *v
	}
	next.UserID, next.UpdatedAt = u.ID, s.now()
	if err := s.store.PutUserSettings(ctx, &next); err != nil {
		return err
	}
	out, err := s.securitySettings(r, u)
	if err != nil {
		return err
	}
	s.log.Info("security settings changed", "request_id", requestIDFrom(ctx), "user_id", u.ID,
		"ephemeral_mode", out.EphemeralMode, "strict_ephemeral", out.StrictEphemeral, "client_side_storage", out.ClientSideStorage)
	return writeJSON(w, http.StatusOK, out)
}
