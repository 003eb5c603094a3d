package authsession

import (
	"net"
	"net/url"
	"strings"

	"github.com/polydev/polydev"
)

// Request is what a user asks for: exactly one of a coding CLI's login (Provider) or a site
// (TargetURL), as POST /api/auth/session takes it.
type Request struct {
	Provider  polydev.CLIProvider `json:"provider,omitempty"`
	TargetURL string              `json:"targetUrl,omitempty"`
}

// maxTargetURL bounds a target URL: an OAuth authorize URL with its state and PKCE challenge fits
// well within it.
const maxTargetURL = 2048

// Validate checks r and returns the target URL in canonical form. Every refusal says what to send
// instead.
func (r Request) Validate() (string, error) {
	switch {
	case r.Provider != "" && r.TargetURL != "":
		return "", polydev.Errorf(polydev.EINVALID, "give either provider or targetUrl, not both")
	case r.Provider != "":
		if !r.Provider.Valid() {
			return "", polydev.Errorf(polydev.EINVALID, "provider must be one of claude_code, codex_cli, gemini_cli")
		}
		return "", nil
	case r.TargetURL == "":
		return "", polydev.Errorf(polydev.EINVALID, "provider (claude_code, codex_cli, gemini_cli) or targetUrl (an https URL) is required")
	}
	return ValidateTargetURL(r.TargetURL)
}

// ValidateTargetURL accepts an absolute https URL with a host name or address, no user name or
// password in it (they would be stored and shown), no fragment-only tricks, within maxTargetURL.
func ValidateTargetURL(raw string) (string, error) {
	bad := func(why string) (string, error) {
		return "", polydev.Errorf(polydev.EINVALID, "targetUrl %s; give an https URL such as https://github.com/login/oauth/authorize?client_id=…", why)
	}
	if len(raw) > maxTargetURL {
		return bad("is longer than 2048 characters")
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return bad("contains spaces or control characters")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("is not a URL")
	case !strings.EqualFold(u.Scheme, "https"):
		return bad("must use https")
	case u.User != nil:
		return bad("must not carry a user name or password")
	case u.Opaque != "" || u.Hostname() == "":
		return bad("needs a host")
	}
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u.Scheme, u.Host = "https", host
	return u.String(), nil
}

// targetHost is the host name of a validated target URL ("" if it has none).
func targetHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
