package authsession

import (
	"errors"
	"io"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/egress"
)

// ProxyEgress is the Egress of package egress's Proxy: a provider session may reach its
// provider's login and API hosts (egress.ProviderRules), a target URL session its URL's host and
// port (egress.TargetRules), within the proxy's default byte and time limits (the time limit
// outlasts the session's expiry, which ends it first).
type ProxyEgress struct{ Proxy *egress.Proxy }

// Open binds session a's allow-list to VM vmID's egress listener. A VM without one (egress off for
// it) gives a nil Closer and no error: the session runs with no way out, which the service logs.
func (e ProxyEgress) Open(vmID string, a *polydev.AuthSession) (io.Closer, error) {
	var rules []egress.Rule
	var err error
	if a.Provider != "" {
		rules, err = egress.ProviderRules(string(a.Provider))
	} else {
		rules, err = egress.TargetRules(a.TargetURL)
	}
	if err != nil {
		return nil, err
	}
	s, err := e.Proxy.Open(vmID, egress.Policy{Session: a.ID, Allow: rules})
	if errors.Is(err, egress.ErrNoVM) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return sessionCloser{s}, nil
}

// sessionCloser gives egress.Session's Close (which cannot fail) io.Closer's shape.
type sessionCloser struct{ s *egress.Session }

func (c sessionCloser) Close() error {
	c.s.Close()
	return nil
}
