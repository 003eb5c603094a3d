package web

import (
	"encoding/json"
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/providerkeys"
)

// providerAction is the body of POST /api/admin/providers: the seed's action verbs, each using the
// fields it needs. Key settings are inlined, as in the seed.
type providerAction struct {
	Action string   `json:"action"`
	KeyID  string   `json:"keyId"`
	KeyIDs []string `json:"keyIds"`
	Active *bool    `json:"active"`
	providerkeys.Input
}

// UnmarshalJSON decodes the action fields and the inlined key settings from one object, refusing
// fields that belong to neither.
func (a *providerAction) UnmarshalJSON(b []byte) error {
	var head struct {
		Action string   `json:"action"`
		KeyID  string   `json:"keyId"`
		KeyIDs []string `json:"keyIds"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	a.Action, a.KeyID, a.KeyIDs = head.Action, head.KeyID, head.KeyIDs
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	delete(fields, "action")
	delete(fields, "keyId")
	delete(fields, "keyIds")
	rest, _ := json.Marshal(fields)
	dec := json.NewDecoder(bytesReader(rest))
	dec.DisallowUnknownFields()
	return dec.Decode(&a.Input)
}

type providerSummary struct {
	Provider   polydev.Provider `json:"provider"`
	TotalKeys  int              `json:"totalKeys"`
	ActiveKeys int              `json:"activeKeys"`
	Available  int              `json:"availableKeys"`
	MonthSpend polydev.Money    `json:"currentMonthSpend"`
	Requests   int64            `json:"totalRequests"`
}

func (s *Server) listProviders(w http.ResponseWriter, r *http.Request, _ *polydev.User) error {
	keys, err := s.store.ListProviderKeys(r.Context(), "")
	if err != nil {
		return err
	}
	now := s.now()
	sums := make([]providerSummary, len(polydev.Providers))
	for i, p := range polydev.Providers {
		sums[i].Provider = p
		for _, k := range keys {
			if k.Provider != p {
				continue
			}
			sums[i].TotalKeys++
			if k.Active {
				sums[i].ActiveKeys++
			}
			if k.Available(now) {
				sums[i].Available++
			}
			sums[i].MonthSpend += k.Usage.SpendThisMonth(now)
			sums[i].Requests += k.Usage.TotalRequests
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"keys": s.keysJSON(r.Context(), keys), "providers": sums})
}

// providerActions runs one of the seed's admin actions on platform keys.
func (s *Server) providerActions(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in providerAction
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	keyID := func() error {
		if !polydev.ValidID(in.KeyID) {
			return polydev.Errorf(polydev.ENOTFOUND, "key not found")
		}
		return nil
	}
	var (
		k   *polydev.ProviderKey
		err error
	)
	switch in.Action {
	case "add_key":
		k, err = s.keys.Create(ctx, "", in.Input)
		if err == nil {
			s.log.Info("platform key added", "request_id", requestIDFrom(ctx), "admin_id", u.ID, "key_id", k.ID, "provider", k.Provider)
			return writeJSON(w, http.StatusCreated, map[string]any{"key": toKeyJSON(k, s.now())})
		}
	case "update_key":
		if err = keyID(); err == nil {
			k, err = s.keys.Update(ctx, "", in.KeyID, in.Input)
		}
	case "toggle_active":
		if err = keyID(); err != nil {
			break
		}
		if k, err = s.store.ProviderKeyFor(ctx, "", in.KeyID); err != nil {
			break
		}
		active := !k.Active
		if in.Input.Active.Set && in.Input.Active.Value != nil {
			active = *in.Input.Active.Value
		}
		k, err = s.keys.Update(ctx, "", in.KeyID, providerkeys.Input{Active: providerkeys.Of(active)})
	case "reset_usage":
		if err = keyID(); err != nil {
			break
		}
		if err = s.store.ResetProviderKeyUsage(ctx, "", in.KeyID, s.now()); err == nil {
			k, err = s.store.ProviderKeyFor(ctx, "", in.KeyID)
		}
	case "reorder_keys":
		if len(in.KeyIDs) == 0 || len(in.KeyIDs) > providerkeys.MaxKeysPerOwner {
			return polydev.Errorf(polydev.EINVALID, "keyIds must list the keys in their new order")
		}
		seen := map[string]bool{}
		for _, id := range in.KeyIDs {
			if seen[id] {
				return polydev.Errorf(polydev.EINVALID, "keyIds lists a key twice")
			}
			seen[id] = true
		}
		if err = s.store.ReorderProviderKeys(ctx, "", in.KeyIDs, s.now()); err == nil {
			return s.listProviders(w, r, u)
		}
	case "delete_key":
		if err = keyID(); err == nil {
			err = s.store.DeleteProviderKey(ctx, "", in.KeyID)
		}
		if err == nil {
			s.log.Info("platform key deleted", "request_id", requestIDFrom(ctx), "admin_id", u.ID, "key_id", in.KeyID)
			return writeJSON(w, http.StatusOK, map[string]any{"deleted": in.KeyID})
		}
	case "get_next_available_key":
		if !in.Provider.Set || in.Provider.Value == nil || !in.Provider.Value.Valid() {
			return polydev.Errorf(polydev.EINVALID, "provider is required: one of openai, anthropic, gemini, openai-compatible")
		}
		k, err = s.keys.NextAvailable(ctx, "", *in.Provider.Value)
	case "":
		return polydev.Errorf(polydev.EINVALID, "action is required")
	default:
		return polydev.Errorf(polydev.EINVALID, "unknown action %q: use add_key, update_key, toggle_active, reset_usage, reorder_keys, delete_key or get_next_available_key", truncate(in.Action, 40))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"key": toKeyJSON(k, s.now())})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
