package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handle(s.healthz))
	mux.HandleFunc("GET /readyz", s.handle(s.readyz))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))

	mux.HandleFunc("POST /api/account/signup", s.handle(s.csrfChecked(s.signup)))
	mux.HandleFunc("POST /api/account/login", s.handle(s.csrfChecked(s.login)))
	mux.HandleFunc("POST /api/account/logout", s.handle(s.csrfChecked(s.logout)))
	mux.HandleFunc("GET /api/account/me", s.handle(s.user(s.me)))
	mux.HandleFunc("POST /api/account/tokens", s.handle(s.user(s.createToken)))
	mux.HandleFunc("GET /api/account/tokens", s.handle(s.user(s.listTokens)))
	mux.HandleFunc("DELETE /api/account/tokens/{id}", s.handle(s.user(s.revokeToken)))
	mux.HandleFunc("POST /api/account/password", s.handle(s.user(s.changePassword)))
	mux.HandleFunc("POST /api/account/logout-all", s.handle(s.user(s.logoutAll)))
	mux.HandleFunc("POST /api/account/verify", s.handle(s.csrfChecked(s.verifyEmail)))
	mux.HandleFunc("POST /api/account/verify/resend", s.handle(s.user(s.resendVerification)))
	mux.HandleFunc("POST /api/account/password/forgot", s.handle(s.csrfChecked(s.forgotPassword)))
	mux.HandleFunc("POST /api/account/password/reset", s.handle(s.csrfChecked(s.resetPassword)))

	mux.HandleFunc("POST /v1/chat/completions", s.chatCompletionsV1)
	mux.HandleFunc("POST /v1/messages", s.messages)
	mux.HandleFunc("POST /v1/messages/count_tokens", s.countTokens)
	mux.HandleFunc("POST /v1/responses", s.createResponse)
	mux.HandleFunc("GET /v1/responses/{id}", s.storedResponse)
	mux.HandleFunc("DELETE /v1/responses/{id}", s.storedResponse)
	mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	mux.HandleFunc("GET /v1/models", s.listModels)
	mux.HandleFunc("GET /v1/models/{id...}", s.retrieveModel)
	mux.HandleFunc("POST /v1beta/models/{rest...}", s.geminiGateway)
	mux.HandleFunc("POST /v1/models/{rest...}", s.geminiGateway)
	mux.HandleFunc("POST /api/chat/completions", s.chatCompletions)
	mux.HandleFunc("GET /api/chat/sessions", s.handle(s.user(s.listSessions)))
	mux.HandleFunc("GET /api/chat/sessions/{id}", s.handle(s.user(s.getSession)))
	mux.HandleFunc("DELETE /api/chat/sessions/{id}", s.handle(s.user(s.deleteSession)))
	mux.HandleFunc("PATCH /api/chat/sessions/{id}", s.handle(s.user(s.renameSession)))
	mux.HandleFunc("GET /api/chat/sessions/{id}/messages", s.handle(s.user(s.listSessionMessages)))
	mux.HandleFunc("POST /api/chat/sessions/{id}/messages", s.handle(s.user(s.postSessionMessage)))

	mux.HandleFunc("GET /api/security/settings", s.handle(s.user(s.getSecuritySettings)))
	mux.HandleFunc("PUT /api/security/settings", s.handle(s.user(s.putSecuritySettings)))
	mux.HandleFunc("GET /api/dashboard/stats", s.handle(s.user(s.dashboardStats)))
	mux.HandleFunc("GET /api/dashboard/request-logs", s.handle(s.user(s.requestLogs)))

	mux.HandleFunc("GET /api/api-keys", s.handle(s.user(s.listAPIKeys)))
	mux.HandleFunc("POST /api/api-keys", s.handle(s.user(s.createAPIKey)))
	mux.HandleFunc("PATCH /api/api-keys/{id}", s.handle(s.user(s.updateAPIKey)))
	mux.HandleFunc("DELETE /api/api-keys/{id}", s.handle(s.user(s.deleteAPIKey)))

	mux.HandleFunc("GET /api/admin/providers", s.handle(s.admin(s.listProviders)))
	mux.HandleFunc("POST /api/admin/providers", s.handle(s.admin(s.providerActions)))
	mux.HandleFunc("GET /api/admin/pricing", s.handle(s.admin(s.getPricing)))
	mux.HandleFunc("PUT /api/admin/pricing", s.handle(s.admin(s.putPricing)))
	mux.HandleFunc("GET /api/admin/tier-limits", s.handle(s.admin(s.getTierLimits)))
	mux.HandleFunc("PUT /api/admin/tier-limits", s.handle(s.admin(s.putTierLimits)))
	mux.HandleFunc("GET /api/admin/stats", s.handle(s.admin(s.adminStats)))
	mux.HandleFunc("GET /api/admin/users", s.handle(s.admin(s.listUsers)))
	mux.HandleFunc("GET /api/admin/users/{id}", s.handle(s.admin(s.getUser)))
	mux.HandleFunc("PATCH /api/admin/users/{id}", s.handle(s.admin(s.updateUser)))
	mux.HandleFunc("POST /api/admin/users/{id}/password", s.handle(s.admin(s.resetUserPassword)))
	mux.HandleFunc("GET /api/admin/system/stats", s.handle(s.admin(s.systemStats)))

	mux.HandleFunc("POST /api/vms", s.handle(s.user(s.createVM)))
	mux.HandleFunc("GET /api/vms", s.handle(s.user(s.listVMs)))
	mux.HandleFunc("GET /api/vms/{id}", s.handle(s.user(s.getVM)))
	mux.HandleFunc("POST /api/vms/{id}/start", s.handle(s.user(s.startVM)))
	mux.HandleFunc("POST /api/vms/{id}/stop", s.handle(s.user(s.stopVM)))
	mux.HandleFunc("DELETE /api/vms/{id}", s.handle(s.user(s.deleteVM)))
	mux.HandleFunc("POST /api/vms/{id}/vnc-ticket", s.handle(s.user(s.createVNCTicket)))
	mux.HandleFunc("GET /api/vms/{id}/novnc/websockify", s.handle(s.user(s.novncWebSocket)))
	mux.HandleFunc("GET /novnc/{path...}", s.handle(s.novncStatic))

	// Browser login sessions (web/authsessions.go).
	mux.HandleFunc("POST /api/auth/session", s.handle(s.user(s.createAuthSession)))
	mux.HandleFunc("GET /api/auth/sessions", s.handle(s.user(s.listAuthSessions)))
	mux.HandleFunc("GET /api/auth/session/{id}", s.handle(s.user(s.getAuthSession)))
	mux.HandleFunc("DELETE /api/auth/session/{id}", s.handle(s.user(s.deleteAuthSession)))
	mux.HandleFunc("POST /api/auth/session/{id}/credentials", s.handle(s.user(s.authSessionCredentials)))
	mux.HandleFunc("POST /api/auth/session/{id}/vnc-ticket", s.handle(s.user(s.authSessionTicket)))
	mux.HandleFunc("GET /api/auth/session/{id}/novnc", s.handle(s.user(s.authSessionNoVNC)))

	mux.HandleFunc("GET /api/subscription", s.handle(s.user(s.getSubscription)))
	mux.HandleFunc("POST /api/subscription/upgrade", s.handle(s.user(s.upgradeSubscription)))
	mux.HandleFunc("POST /api/subscription/portal", s.handle(s.user(s.subscriptionPortal)))
	mux.HandleFunc("GET /api/subscription/invoices", s.handle(s.user(s.listInvoices)))
	mux.HandleFunc("POST /api/webhooks/stripe", s.handle(s.stripeWebhook))

	if s.pages != nil {
		s.pages.Mount(mux, s.pageAPI())
	}

	// MCP (web/mcp.go): the endpoint takes MCP tokens; managing them takes a login or an API token.
	mux.HandleFunc("/mcp", s.handle(s.serveMCP))
	mux.HandleFunc("POST /api/mcp/tokens", s.handle(s.user(s.createMCPToken)))
	mux.HandleFunc("GET /api/mcp/tokens", s.handle(s.user(s.listMCPTokens)))
	mux.HandleFunc("DELETE /api/mcp/tokens/{id}", s.handle(s.user(s.revokeMCPToken)))
	mux.HandleFunc("POST /api/cli-status-update", s.handle(s.cliStatusUpdate))
	mux.HandleFunc("GET /api/cli-status", s.handle(s.user(s.listCLIStatus)))
	return mux
}
