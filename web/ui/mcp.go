package ui

import (
	"net/http"

	"github.com/polydev/polydev"
)

type mcpData struct {
	Tokens []*polydev.APIToken // active MCP tokens
	CLIs   []*polydev.CLIStatus
	Pro    bool // the tier may report CLI status (Pro and up)
}

// mcp is the MCP page: tokens for `polydev mcp` and other MCP clients, and what each machine last
// reported about its coding CLIs.
func (u *UI) mcp(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx, user := r.Context(), v.User
	toks, err := u.api.Store.ListTokens(ctx, user.ID)
	if err != nil {
		return err
	}
	now := u.api.Now()
	d := &mcpData{Pro: user.Tier == polydev.TierPro || user.Tier == polydev.TierEnterprise}
	for _, t := range toks {
		if t.Scope == polydev.TokenScopeMCP && t.Active(now) {
			d.Tokens = append(d.Tokens, t)
		}
	}
	if d.CLIs, err = u.api.Store.ListCLIStatus(ctx, user.ID); err != nil {
		return err
	}
	v.Title, v.Nav, v.Data = "MCP", "mcp", d
	return u.render(w, r, "mcp", v)
}
