package ui

import (
	"net/http"

	"github.com/polydev/polydev"
)

type tokensData struct {
	Active, Ended []*polydev.APIToken
}

func (u *UI) tokens(w http.ResponseWriter, r *http.Request, v *view) error {
	toks, err := u.api.Store.ListTokens(r.Context(), v.User.ID)
	if err != nil {
		return err
	}
	now := u.api.Now()
	d := &tokensData{}
	for _, t := range toks {
		if t.Scope == polydev.TokenScopeMCP {
			continue // on the MCP page
		}
		if t.Active(now) {
			d.Active = append(d.Active, t)
		} else {
			d.Ended = append(d.Ended, t)
		}
	}
	v.Title, v.Nav, v.Data = "API tokens", "tokens", d
	return u.render(w, r, "tokens", v)
}
