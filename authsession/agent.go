package authsession

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Agent is the guest agent's login API, as the host uses it (agent/README.md). Every call after
// SetToken carries the session's per-clone token.
type Agent interface {
	// SetToken gives the agent the per-clone token, once, right after the VM was handed out.
	SetToken(ctx context.Context, token string) error
	// StartLogin starts the provider CLI's login (or opens the target URL) in the guest.
	StartLogin(ctx context.Context, token string, r Request) error
	// LoginState reports the login: running, completed (the CLI exited 0 and its credential file
	// exists) or failed with the agent's reason.
	LoginState(ctx context.Context, token string) (LoginState, error)
	// Credential takes the credential file out of the guest (the agent removes its copy).
	Credential(ctx context.Context, token string) (*CredentialFile, error)
	// CancelLogin ends the login's processes in the guest.
	CancelLogin(ctx context.Context, token string) error
	// Autofill types a user name and password into the login form through the browser's DevTools.
	Autofill(ctx context.Context, token string, f Autofill) error
}

// Login states the agent reports.
const (
	LoginRunning   = "running"
	LoginCompleted = "completed"
	LoginFailed    = "failed"
)

// LoginState is GET /login's answer.
type LoginState struct {
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// CredentialFile is GET /login/credential's answer: the file (its path under the guest user's
// home), its format and its bytes.
type CredentialFile struct {
	Provider string `json:"provider"`
	File     string `json:"file"`
	Format   string `json:"format"`
	Content  []byte `json:"content"` // base64 in JSON
}

// Autofill is POST /credentials' body (agent/credentials.go).
type Autofill struct {
	TargetURL string `json:"target_url"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// maxCredentialFile bounds what the host reads from a guest: credential files are a few KiB.
const maxCredentialFile = 1 << 20

// httpAgent speaks the agent's API over one dial function (the controller's Dial to the agent's
// port), with no connection reuse: every call opens its own connection to this one VM.
type httpAgent struct {
	client *http.Client
}

// NewHTTPAgent returns the Agent reached through dial.
func NewHTTPAgent(dial func(ctx context.Context) (net.Conn, error)) Agent {
	return &httpAgent{client: &http.Client{
		Transport: &http.Transport{
			DialContext:           func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
			DisableKeepAlives:     true,
			ResponseHeaderTimeout: 30 * time.Second,
		},
		// The agent never redirects; following one would send the token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (a *httpAgent) SetToken(ctx context.Context, token string) error {
	return a.do(ctx, http.MethodPost, "/token", "", map[string]string{"token": token}, nil)
}

func (a *httpAgent) StartLogin(ctx context.Context, token string, r Request) error {
	return a.do(ctx, http.MethodPost, "/login", token, r, nil)
}

func (a *httpAgent) LoginState(ctx context.Context, token string) (LoginState, error) {
	var s LoginState
	err := a.do(ctx, http.MethodGet, "/login", token, nil, &s)
	return s, err
}

func (a *httpAgent) Credential(ctx context.Context, token string) (*CredentialFile, error) {
	var f CredentialFile
	if err := a.do(ctx, http.MethodGet, "/login/credential", token, nil, &f); err != nil {
		return nil, err
	}
	if len(f.Content) == 0 {
		return nil, fmt.Errorf("agent: empty credential file %q", clip(f.File))
	}
	return &f, nil
}

func (a *httpAgent) CancelLogin(ctx context.Context, token string) error {
	return a.do(ctx, http.MethodDelete, "/login", token, nil, nil)
}

func (a *httpAgent) Autofill(ctx context.Context, token string, f Autofill) error {
	return a.do(ctx, http.MethodPost, "/credentials", token, f, nil)
}

// AgentError is a refusal from the agent: its status and its message (guest text: shown to the
// session's owner at most, never trusted).
type AgentError struct {
	Status  int
	Message string
}

func (e *AgentError) Error() string { return fmt.Sprintf("agent answered %d: %s", e.Status, e.Message) }

func (a *httpAgent) do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://agent"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxCredentialFile+1))
	if err != nil {
		return err
	}
	if len(b) > maxCredentialFile {
		return fmt.Errorf("agent: %s %s answer larger than %d bytes", method, path, maxCredentialFile)
	}
	if res.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return &AgentError{Status: res.StatusCode, Message: clip(e.Error.Message)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("agent: %s %s: %w", method, path, err)
	}
	return nil
}

// clip keeps guest text short and printable before it reaches a record or a log.
func clip(s string) string {
	const max = 200
	out := make([]rune, 0, min(len(s), max))
	for _, r := range s {
		if len(out) == max {
			break
		}
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// newToken is the per-clone token: 256 random bits, hex (64 characters; the agent takes 32 to 512).
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
