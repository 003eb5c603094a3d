package web

import (
	"context"
	"net/http"
	"time"

	"github.com/polydev/polydev"
)

// healthz says the process is up; it checks nothing else, so orchestrators do not restart a healthy
// process because its database blipped.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": polydev.Version})
}

// readyz says the process can serve: the store answers within a short deadline.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return polydev.Wrap(polydev.EUNAVAILABLE, err, "database is not reachable")
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "engine": s.store.Engine()})
}
