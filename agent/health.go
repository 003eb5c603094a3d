package agent

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

// Health statuses, in the seed's /health shape.
const (
	HealthHealthy  = "healthy"  // every child ready
	HealthStarting = "starting" // first bring-up still in progress
	HealthDegraded = "degraded" // a child was lost after bring-up, or given up on
)

// HealthReport is the body of GET /health and GET /ready.
type HealthReport struct {
	Status   string   `json:"status"`
	Display  bool     `json:"display"`
	Browser  bool     `json:"browser"`
	NoVNC    bool     `json:"novnc"` // x11vnc and websockify both ready: the host can show the screen
	Children []Status `json:"children"`
}

// Report derives the health report from a snapshot of the default stack's children.
func Report(snap Snapshot) HealthReport {
	ready := func(name string) bool {
		st, ok := snap.Child(name)
		return ok && st.State == StateReady
	}
	r := HealthReport{
		Display:  ready(ChildDisplay),
		Browser:  ready(ChildBrowser),
		NoVNC:    ready(ChildVNC) && ready(ChildWebsockify),
		Children: snap.Children,
	}
	switch {
	case snap.AllReady():
		r.Status = HealthHealthy
	case snap.BroughtUp || snap.AnyFailed():
		r.Status = HealthDegraded
	default:
		r.Status = HealthStarting
	}
	return r
}

// StatusSource is what the HTTP side needs from the supervisor.
type StatusSource interface{ Snapshot() Snapshot }

// Endpoints is what the HTTP side serves besides health; a nil part answers 404.
type Endpoints struct {
	Token *TokenGate     // POST /token; guards /login* and /credentials
	Sync  *Syncer        // POST /sync
	Login *Login         // POST|GET|DELETE /login, GET /login/credential
	Fill  CredentialSink // POST /credentials
}

// NewHandler serves GET /health (always 200, the report says how things are), GET /ready (200 only
// when every child is ready, else 503), POST /sync (Syncer, host-only), POST /token (TokenGate,
// host-only) and, behind the token, the login runner and the autofill.
func NewHandler(src StatusSource, e Endpoints, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Report(src.Snapshot()))
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		rep := Report(src.Snapshot())
		code := http.StatusOK
		if rep.Status != HealthHealthy {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rep)
	})
	mux.Handle("POST /sync", handle(log, e.Sync.serve))
	gate := e.Token
	if gate == nil {
		gate = &TokenGate{}
	}
	mux.Handle("POST /token", handle(log, gate.serveSet))
	mux.Handle("POST /login", handle(log, gate.guard("login", e.Login.serveStart)))
	mux.Handle("GET /login", handle(log, gate.guard("login", e.Login.serveStatus)))
	mux.Handle("DELETE /login", handle(log, gate.guard("login", e.Login.serveCancel)))
	mux.Handle("GET /login/credential", handle(log, gate.guard("login", e.Login.serveCredential)))
	mux.Handle("POST /credentials", handle(log, gate.guard("credentials", serveCredentials(e.Fill))))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
