package agent

// The autofill (POST /credentials): the host never puts credentials in the guest's environment, kernel
// command line or disk. It sends them once, when the user asks, over the host-guest channel (the VMM's
// forward to this agent's port), guarded by the clone's token (token.go):
//
//	POST /credentials
//	Authorization: Bearer <token>
//	{"target_url": "...", "username": "...", "password": "..."}
//
// and the CredentialSink types them into the browser's login form over DevTools (autofill.go). The
// sink types only into a page whose origin is target_url's, so credentials meant for one site never
// land in another's form. They are never logged and never stored.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
)

// Credentials are what the host hands to the guest's browser.
type Credentials struct {
	TargetURL string `json:"target_url"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// CredentialSink receives credentials accepted by the gate.
type CredentialSink func(ctx context.Context, c Credentials) error

// maxCredentialBody bounds what a caller can make the agent read.
const maxCredentialBody = 64 << 10

func serveCredentials(sink CredentialSink) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if sink == nil {
			return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no browser to fill in"}
		}
		var c Credentials
		dec := json.NewDecoder(io.LimitReader(r.Body, maxCredentialBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "want {target_url, username, password}", Cause: err}
		}
		if u, err := url.Parse(c.TargetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "target_url must be an absolute http(s) URL"}
		}
		if c.Username == "" && c.Password == "" {
			return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "nothing to fill in"}
		}
		if err := sink(r.Context(), c); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
