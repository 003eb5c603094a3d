package ui

import "net/http"

// routes lists every page. public pages show to anyone; signedIn pages send a visitor without a
// session to /login first.
func (u *UI) routes(mux *http.ServeMux) {
	mux.Handle("GET /assets/{version}/{file}", assetHandler())
	mux.HandleFunc("GET /{$}", u.public(u.home))
	mux.HandleFunc("GET /pricing", u.public(u.pricing))
	mux.HandleFunc("GET /signup", u.public(u.signup))
	mux.HandleFunc("GET /login", u.public(u.login))
	mux.HandleFunc("GET /account/forgot-password", u.public(u.recoveryPage("forgot_password", "Forgot password")))
	mux.HandleFunc("GET /account/reset-password", u.public(u.recoveryPage("reset_password", "New password")))
	mux.HandleFunc("GET /account/verify-email", u.public(u.recoveryPage("verify_email", "Verify email")))
	mux.HandleFunc("GET /dashboard", u.signedIn(u.dashboard))
	mux.HandleFunc("GET /chat", u.signedIn(u.chat))
	mux.HandleFunc("GET /settings/security", u.signedIn(u.security))
	mux.HandleFunc("GET /settings/tokens", u.signedIn(u.tokens))
	mux.HandleFunc("GET /settings/mcp", u.signedIn(u.mcp))
	mux.HandleFunc("GET /settings/subscription", u.signedIn(u.subscription))
	mux.HandleFunc("GET /logs", u.signedIn(u.logs))
	mux.HandleFunc("GET /vms", u.signedIn(u.vms))
	mux.HandleFunc("GET /logins", u.signedIn(u.logins))
	mux.HandleFunc("GET /admin", u.admin(u.adminHome))
	mux.HandleFunc("GET /admin/providers", u.admin(u.adminProviders))
	mux.HandleFunc("GET /admin/pricing", u.admin(u.adminPricing))
	mux.HandleFunc("GET /admin/tiers", u.admin(u.adminTiers))
	mux.HandleFunc("GET /admin/users", u.admin(u.adminUsers))
}
