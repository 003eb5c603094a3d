package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/billing"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/pricing"
	"github.com/polydev/polydev/providerkeys"
)

// Pages is a set of HTML pages served beside the JSON API (package web/ui). Mount registers its
// routes on the API's mux, so the pages share its middleware (request ids, security headers, access
// log, metrics) and its services.
type Pages interface {
	Mount(mux *http.ServeMux, api PageAPI)
}

// PageAPI is what the API server lends its pages: the same services its handlers call, and the
// session check. Pages read through these services; they change things through the JSON API, so
// every action has one path and one set of rules.
type PageAPI struct {
	Store          polydev.Store
	Keys           *providerkeys.Service
	Prices         *pricing.Table
	Convs          *conversations.Service
	Router         *router.Router       // the models a user can reach (Router.Models)
	VMs            polydev.VMController // nil: VM support is off
	Log            *slog.Logger
	Now            func() time.Time
	SignupDisabled bool
	MailOn         bool // the server sends mail: sign-up is verified by a link, passwords reset by mail
	// Billing is Stripe checkout, portal and subscription status; nil when billing is not configured
	// (then admins set tiers and the pages say so).
	Billing *billing.Service
	// User resolves the browser session of a page request (cookie only: pages are never fetched with
	// a bearer token). The error is a *polydev.Error: EUNAUTHORIZED when there is no live session.
	User func(w http.ResponseWriter, r *http.Request) (*polydev.User, error)
}

func (s *Server) pageAPI() PageAPI {
	return PageAPI{
		Store: s.store, Keys: s.keys, Prices: s.prices, Convs: s.convs, Router: s.router, VMs: s.vms, Log: s.log,
		Now: func() time.Time { return s.now() }, SignupDisabled: s.cfg.SignupDisabled, MailOn: s.mail != nil, Billing: s.billing,
		User: s.pageUser,
	}
}

// pageUser is the session behind a page request. Pages are GETs (safe methods), so the cross-origin
// check has nothing to refuse; writes go through the API, which checks it.
func (s *Server) pageUser(w http.ResponseWriter, r *http.Request) (*polydev.User, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, errAuthRequired
	}
	u, err := s.sessionUser(r, c.Value)
	if err != nil {
		clearSessionCookie(w)
		return nil, err
	}
	return u, nil
}

// ErrorStatus is the HTTP status the API gives err, so that pages answer a failure with the status
// its JSON twin would have.
func ErrorStatus(err error) int {
	if st, ok := statusOf[polydev.ErrorCode(err)]; ok {
		return st.status
	}
	return http.StatusInternalServerError
}
