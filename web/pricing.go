package web

import (
	"net/http"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/pricing"
)

type priceInput struct {
	Model              string         `json:"model"`
	InputPerMTok       *polydev.Money `json:"inputPerMTok"`
	OutputPerMTok      *polydev.Money `json:"outputPerMTok"`
	CachedInputPerMTok *polydev.Money `json:"cachedInputPerMTok"`
	CacheWritePerMTok  *polydev.Money `json:"cacheWritePerMTok"`
	MaxOutputTokens    int64          `json:"maxOutputTokens"` // 0 = unknown; max_tokens is clamped to it for reservations
	ContextWindow      int64          `json:"contextWindow"`
}

type putPricing struct {
	Prices []priceInput `json:"prices"` // overrides to set
	Reset  []string     `json:"reset"`  // models whose override is removed (back to the default)
}

func (s *Server) getPricing(w http.ResponseWriter, r *http.Request, _ *polydev.User) error {
	entries, err := s.prices.Entries(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"prices": entries})
}

// putPricing validates every row before writing any; then overrides are set and resets applied.
func (s *Server) putPricing(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in putPricing
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if len(in.Prices) == 0 && len(in.Reset) == 0 {
		return polydev.Errorf(polydev.EINVALID, "send prices to set and/or reset to remove overrides")
	}
	if len(in.Prices)+len(in.Reset) > 1000 {
		return polydev.Errorf(polydev.EINVALID, "at most 1000 models per request")
	}
	now := s.now()
	rows := make([]*polydev.ModelPrice, 0, len(in.Prices))
	seen := map[string]bool{}
	for _, p := range in.Prices {
		if err := checkModelName(p.Model); err != nil {
			return err
		}
		if seen[p.Model] {
			return polydev.Errorf(polydev.EINVALID, "model %s is listed twice", p.Model)
		}
		seen[p.Model] = true
		if p.InputPerMTok == nil || p.OutputPerMTok == nil {
			return polydev.Errorf(polydev.EINVALID, "model %s: inputPerMTok and outputPerMTok are required (dollars per million tokens)", p.Model)
		}
		if p.MaxOutputTokens < 0 || p.ContextWindow < 0 || p.MaxOutputTokens > pricing.MaxTokens || p.ContextWindow > pricing.MaxTokens {
			return polydev.Errorf(polydev.EINVALID, "model %s: maxOutputTokens and contextWindow must be between 0 and %d", p.Model, pricing.MaxTokens)
		}
		row := &polydev.ModelPrice{Model: p.Model, InputPerMTok: *p.InputPerMTok, OutputPerMTok: *p.OutputPerMTok,
			MaxOutputTokens: p.MaxOutputTokens, ContextWindow: p.ContextWindow, UpdatedAt: now}
		if p.CachedInputPerMTok != nil {
			row.CachedInputPerMTok = *p.CachedInputPerMTok
		}
		if p.CacheWritePerMTok != nil {
			row.CacheWritePerMTok = *p.CacheWritePerMTok
		}
		rows = append(rows, row)
	}
	for _, m := range in.Reset {
		if err := checkModelName(m); err != nil {
			return err
		}
	}
	if len(rows) > 0 {
		if err := s.store.PutPriceOverrides(r.Context(), rows); err != nil {
			return err
		}
	}
	if len(in.Reset) > 0 {
		if err := s.store.DeletePriceOverrides(r.Context(), in.Reset); err != nil {
			return err
		}
	}
	s.prices.Invalidate()
	s.log.Info("prices changed", "request_id", requestIDFrom(r.Context()), "admin_id", u.ID, "set", len(rows), "reset", len(in.Reset))
	return s.getPricing(w, r, u)
}

func checkModelName(m string) error {
	_, name, ok := polydev.SplitModel(m)
	if !ok || len(m) > 200 || strings.ContainsAny(name, " \t\n*") || strings.ContainsFunc(name, isControl) {
		return polydev.Errorf(polydev.EINVALID, "model %q must be provider/model with a provider of openai, anthropic, gemini, openai-compatible", truncate(m, 60))
	}
	return nil
}
