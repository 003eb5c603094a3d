package web

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
	"github.com/polydev/polydev/mcp"
)

// newMCP builds the MCP server over the gateway router: its tool calls are gateway calls.
func (s *Server) newMCP() *mcp.Server {
	return mcp.New(mcp.Deps{Router: s.router, Store: s.store, Log: s.log, Now: func() time.Time { return s.now() },
		Status: httpStatusOf, Keep: s.keepTurn})
}

// serveMCP is /mcp: MCP over Streamable HTTP for the holder of an MCP token (or an API token).
func (s *Server) serveMCP(w http.ResponseWriter, r *http.Request) error {
	if s.mcp == nil {
		return polydev.Errorf(polydev.EUNAVAILABLE, "the MCP endpoint is not configured on this server")
	}
	// Admission as on the gateway surfaces: the caller, then the message under the mcp cap, the
	// account's bytes and requests in flight and the body deadline, which is cleared once the
	// message is in (a get_perspectives answer may take minutes). The SDK then reads the
	// message from memory. Errors are in the API's shape.
	a, ok := s.admit(w, r, gate{limit: LimitMCP, writeErr: writeAPIError, anyTier: true,
		auth: func(_ http.ResponseWriter, r *http.Request) (*polydev.User, error) { return s.authenticateMCP(r) }})
	if !ok {
		return nil
	}
	defer a.done()
	// The pooled buffer is left to the collector: the SDK's decoded messages are not known to
	// be copies of it.
	r.Body = io.NopCloser(bytes.NewReader(a.body.b))
	s.mcp.Handler().ServeHTTP(w, r.WithContext(mcp.WithUser(r.Context(), a.user)))
	return nil
}

// authenticateMCP accepts `Authorization: Bearer pdm_...` (an MCP token) or `Bearer pd_...` (an
// API token, which may do anything its user may). No cookie: an MCP client is never a browser.
func (s *Server) authenticateMCP(r *http.Request) (*polydev.User, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, polydev.Errorf(polydev.EUNAUTHORIZED, "authentication required: send Authorization: Bearer pdm_... (an MCP token)")
	}
	return s.mcpTokenUser(r, strings.TrimSpace(secret))
}

// mcpTokenUser resolves an MCP token, or an API token, to its user.
func (s *Server) mcpTokenUser(r *http.Request, secret string) (*polydev.User, error) {
	if !strings.HasPrefix(secret, auth.MCPTokenPrefix) {
		return s.authenticateToken(r, "Bearer "+secret)
	}
	hash, err := auth.ParseMCPToken(secret)
	if err != nil {
		return nil, errBadToken
	}
	return s.tokenUser(r, hash, polydev.TokenScopeMCP)
}

func (s *Server) createMCPToken(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return s.createScopedToken(w, r, u, polydev.TokenScopeMCP)
}

func (s *Server) listMCPTokens(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return s.listScopedTokens(w, r, u, polydev.TokenScopeMCP)
}

func (s *Server) revokeMCPToken(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return s.revokeScopedToken(w, r, u, polydev.TokenScopeMCP)
}

// cliStatusRequest is the seed's body of POST /api/cli-status-update, plus the machine it comes
// from. mcpToken is the seed's way to send the token; Authorization: Bearer is preferred.
type cliStatusRequest struct {
	Provider      string `json:"provider"`
	Status        string `json:"status"`
	MCPToken      string `json:"mcpToken"`
	CLIVersion    string `json:"cliVersion"`
	CLIPath       string `json:"cliPath"`
	Authenticated bool   `json:"authenticated"`
	Machine       string `json:"machine"`
}

const maxCLIField = 256

// cliStatusUpdate is POST /api/cli-status-update: a machine running `polydev mcp` reports one
// coding CLI. Pro tier and up (the seed's rule).
func (s *Server) cliStatusUpdate(w http.ResponseWriter, r *http.Request) error {
	var in cliStatusRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	var u *polydev.User
	var err error
	if r.Header.Get("Authorization") != "" || in.MCPToken == "" {
		u, err = s.authenticateMCP(r)
	} else {
		u, err = s.mcpTokenUser(r, strings.TrimSpace(in.MCPToken))
	}
	if err != nil {
		return err
	}
	if u.Tier != polydev.TierPro && u.Tier != polydev.TierEnterprise {
		return polydev.Errorf(polydev.EFORBIDDEN, "CLI status reports need the pro tier or above (yours is %s)", u.Tier)
	}
	st, err := in.status(u)
	if err != nil {
		return err
	}
	now := s.now()
	st.CheckedAt, st.CreatedAt = now, now
	if err := s.store.PutCLIStatus(r.Context(), st); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": st})
}

func (in *cliStatusRequest) status(u *polydev.User) (*polydev.CLIStatus, error) {
	p := polydev.CLIProvider(in.Provider)
	if !p.Valid() {
		return nil, polydev.Errorf(polydev.EINVALID, "provider must be one of %v", polydev.CLIProviders)
	}
	switch in.Status {
	case polydev.CLIAvailable, polydev.CLINotInstalled, polydev.CLIError:
	default:
		return nil, polydev.Errorf(polydev.EINVALID, "status must be available, not_installed or error")
	}
	machine := strings.TrimSpace(in.Machine)
	if machine == "" {
		machine = "default"
	}
	for name, v := range map[string]string{"machine": machine, "cliVersion": in.CLIVersion, "cliPath": in.CLIPath} {
		if len(v) > maxCLIField || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			return nil, polydev.Errorf(polydev.EINVALID, "%s must be at most %d printable characters", name, maxCLIField)
		}
	}
	return &polydev.CLIStatus{UserID: u.ID, Machine: machine, Provider: p, Status: in.Status, Authenticated: in.Authenticated,
		Version: strings.TrimSpace(in.CLIVersion), Path: in.CLIPath}, nil
}

// listCLIStatus is GET /api/cli-status: what each of the caller's machines last reported.
func (s *Server) listCLIStatus(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	rows, err := s.store.ListCLIStatus(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"clis": rows})
}
