package ui

import (
	"net/http"

	"github.com/polydev/polydev"
)

// loginsData is the browser logins page: sign in to a coding CLI (or a site) in a VM of one's own.
type loginsData struct {
	Sessions  []*polydev.AuthSession
	On        bool // VM support is on in this server
	MaxVMs    int64
	Providers []loginProvider
}

// loginProvider is a coding CLI a session can sign in to, with the name people know it by.
type loginProvider struct {
	ID    polydev.CLIProvider
	Label string
}

var loginProviders = []loginProvider{
	{polydev.CLIClaudeCode, "Claude Code"}, {polydev.CLICodex, "Codex CLI"}, {polydev.CLIGemini, "Gemini CLI"},
}

// loginsShown is how many of a user's latest sessions the page lists.
const loginsShown = 20

func (u *UI) logins(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	list, err := u.api.Store.ListAuthSessions(ctx, v.User.ID, loginsShown)
	if err != nil {
		return err
	}
	lim, err := u.api.Store.TierLimitsFor(ctx, v.User.Tier)
	if err != nil {
		return err
	}
	d := &loginsData{Sessions: list, On: u.api.VMs != nil, MaxVMs: lim.MaxVMs, Providers: loginProviders}
	v.Title, v.Nav, v.Data, v.Script = "Browser logins", "logins", d, "logins.js"
	return u.render(w, r, "logins", v)
}

// activeLogins are the user's sessions still in progress, for the dashboard.
func (u *UI) activeLogins(r *http.Request, userID string) ([]*polydev.AuthSession, error) {
	list, err := u.api.Store.ListAuthSessions(r.Context(), userID, loginsShown)
	if err != nil {
		return nil, err
	}
	var out []*polydev.AuthSession
	for _, a := range list {
		if a.Status.Active() {
			out = append(out, a)
		}
	}
	return out, nil
}
