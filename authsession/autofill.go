package authsession

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/agent"
)

// loginOrigins are the pages a provider's sign-in form lives on; autofill types only into one of
// them (the agent then checks the page open in the browser has exactly that origin). The first is
// the default when the caller names none.
var loginOrigins = map[polydev.CLIProvider][]string{
	polydev.CLIClaudeCode: {"https://claude.ai", "https://console.anthropic.com", "https://platform.claude.com"},
	polydev.CLICodex:      {"https://auth.openai.com", "https://chatgpt.com"},
	polydev.CLIGemini:     {"https://accounts.google.com"},
}

// AutofillRequest is POST /api/auth/session/{id}/credentials' body: what to type, and optionally
// the page (its origin) to type it into.
type AutofillRequest struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	TargetURL string `json:"targetUrl"`
}

// maxAutofillField bounds a user name or password.
const maxAutofillField = 1024

// autofillTarget returns the page to type into: the request's, which must be on the session's own
// site (its target URL's origin, or one of its provider's login origins), or the session's default.
func autofillTarget(a *polydev.AuthSession, raw string) (string, error) {
	allowed := loginOrigins[a.Provider]
	if a.TargetURL != "" {
		allowed = []string{origin(a.TargetURL)}
	}
	if raw == "" {
		if a.TargetURL != "" {
			return a.TargetURL, nil
		}
		return allowed[0], nil
	}
	target, err := ValidateTargetURL(raw)
	if err != nil {
		return "", err
	}
	for _, o := range allowed {
		if origin(target) == o {
			return target, nil
		}
	}
	return "", polydev.Errorf(polydev.EINVALID, "targetUrl must be on this session's sign-in site (%s)", strings.Join(allowed, ", "))
}

// origin is scheme://host[:port] of a validated URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Autofill types a user name and password into the sign-in form of u's running session id, through
// the browser's DevTools in the guest. The password travels in this call only: it is never stored,
// logged, or put in an error.
func (s *Service) Autofill(ctx context.Context, u *polydev.User, id string, in AutofillRequest) error {
	a, err := s.cfg.Store.AuthSessionByID(ctx, u.ID, id)
	if err != nil {
		return err
	}
	switch {
	case in.Username == "" || in.Password == "":
		return polydev.Errorf(polydev.EINVALID, "username and password are required")
	case len(in.Username) > maxAutofillField || len(in.Password) > maxAutofillField:
		return polydev.Errorf(polydev.EINVALID, "username and password may have at most %d bytes each", maxAutofillField)
	case !utf8.ValidString(in.Username) || !utf8.ValidString(in.Password):
		return polydev.Errorf(polydev.EINVALID, "username and password must be UTF-8 text")
	}
	target, err := autofillTarget(a, in.TargetURL)
	if err != nil {
		return err
	}
	if a.Status != polydev.AuthRunning {
		return polydev.Errorf(polydev.ECONFLICT, "the session is %s; autofill needs a running session", a.Status)
	}
	r := s.runner(a.ID)
	if r == nil || r.agentOrNil() == nil {
		return polydev.Errorf(polydev.ECONFLICT, "the session is not driven by this server any more; start a new session")
	}
	err = r.agentOrNil().Autofill(ctx, r.token, agent.Credentials{TargetURL: target, Username: in.Username, Password: in.Password})
	if ae, ok := errors.AsType[*agent.AgentError](err); ok && ae.Status == http.StatusConflict {
		return polydev.Errorf(polydev.ECONFLICT, "the page open in the VM is not on %s; open the sign-in page there first", origin(target))
	}
	if err != nil {
		return agentFailed(err, "the VM could not fill in the form")
	}
	return nil
}
