package web

import (
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/openai"
)

// modelEntry is OpenAI's model object.
type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func newModelEntry(m *polydev.ModelPrice) modelEntry {
	prov, _, _ := polydev.SplitModel(m.Model)
	return modelEntry{ID: m.Model, Object: "model", Created: m.UpdatedAt.Unix(), OwnedBy: string(prov)}
}

// retrieveModel answers GET /v1/models/{id} (ids hold a slash: openai/gpt-4o) in OpenAI's shape,
// for a model the caller can use: one GET /v1/models lists. The id is resolved as a request's model
// is, so a bare name the price table knows finds its provider/model entry. Anything else is the
// same 404, so the answer does not tell which models exist for other tiers.
func (s *Server) retrieveModel(w http.ResponseWriter, r *http.Request) {
	u, err := s.authenticate(w, r)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	id := r.PathValue("id")
	notFound := polydev.Errorf(polydev.ENOTFOUND, "The model %q does not exist or you do not have access to it.", truncateID(id))
	route, err := s.router.Resolve(r.Context(), id)
	if err != nil {
		if code := polydev.ErrorCode(err); code == polydev.EINVALID || code == polydev.ENOTFOUND {
			err = notFound
		}
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	models, err := s.router.Models(r.Context(), u)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	for _, m := range models {
		if m.Model == route.Model {
			_ = writeJSON(w, http.StatusOK, newModelEntry(m))
			return
		}
	}
	s.gatewayError(w, r, openai.WriteError, notFound)
}

// truncateID keeps an echoed id short: it comes from the URL, of any length.
func truncateID(id string) string {
	if len(id) > 100 {
		return id[:100] + "…"
	}
	return id
}
