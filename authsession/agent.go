package authsession

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"time"

	"github.com/polydev/polydev/agent"
)

// Agent is one VM's guest agent, as a session uses it (agent/README.md; agent/client.go speaks the
// wire). Every call after SetToken carries the session's per-clone token. It is an interface so
// that tests can stand in for a guest.
type Agent interface {
	// SetToken gives the agent the per-clone token, once, right after the VM was handed out.
	SetToken(ctx context.Context, token string) error
	// StartLogin starts the provider CLI's login (or opens the target URL) in the guest.
	StartLogin(ctx context.Context, token string, r Request) error
	// LoginState reports the login: running, completed (the CLI exited 0 and its credential file
	// exists) or failed with the agent's reason.
	LoginState(ctx context.Context, token string) (agent.LoginStatus, error)
	// Credential takes the credential file out of the guest (the agent removes its copy).
	Credential(ctx context.Context, token string) (agent.CredentialFile, error)
	// CancelLogin ends the login's processes in the guest.
	CancelLogin(ctx context.Context, token string) error
	// Autofill types a user name and password into the login form through the browser's DevTools.
	Autofill(ctx context.Context, token string, c agent.Credentials) error
}

// Login states the agent reports.
const (
	LoginCompleted = "completed"
	LoginFailed    = "failed"
)

// httpAgent calls the agent through one dial function (the controller's Dial to the agent's port),
// with no connection reuse: every call opens its own connection to this one VM.
type httpAgent struct {
	client *http.Client
	// typing answers the autofill, which types into a page over DevTools: under QEMU TCG that took
	// over 30 s, and a caller that gave up and retried made the first attempt's typing and the
	// retry's land in the same fields.
	typing *http.Client
}

// agentBase is the URL the client asks for; the dial function decides where it goes.
const agentBase = "http://agent"

// NewHTTPAgent returns the Agent reached through dial.
func NewHTTPAgent(dial func(ctx context.Context) (net.Conn, error)) Agent {
	client := func(wait time.Duration) *http.Client {
		return &http.Client{
			Transport: &http.Transport{
				DialContext:           func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
				DisableKeepAlives:     true,
				ResponseHeaderTimeout: wait,
			},
			// The agent never redirects; following one would send the token elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &httpAgent{client: client(30 * time.Second), typing: client(3 * time.Minute)}
}

func (a *httpAgent) SetToken(ctx context.Context, token string) error {
	return agent.SetToken(ctx, a.client, agentBase, token)
}

func (a *httpAgent) StartLogin(ctx context.Context, token string, r Request) error {
	_, err := agent.StartLogin(ctx, a.client, agentBase, token, agent.LoginRequest{Provider: string(r.Provider), TargetURL: r.TargetURL})
	return err
}

func (a *httpAgent) LoginState(ctx context.Context, token string) (agent.LoginStatus, error) {
	return agent.GetLogin(ctx, a.client, agentBase, token)
}

func (a *httpAgent) Credential(ctx context.Context, token string) (agent.CredentialFile, error) {
	return agent.TakeCredential(ctx, a.client, agentBase, token)
}

func (a *httpAgent) CancelLogin(ctx context.Context, token string) error {
	return agent.CancelLogin(ctx, a.client, agentBase, token)
}

func (a *httpAgent) Autofill(ctx context.Context, token string, c agent.Credentials) error {
	return agent.Autofill(ctx, a.typing, agentBase, token, c)
}

// clip keeps guest text short and printable before it reaches a record or a log.
func clip(s string) string {
	const most = 200
	out := make([]rune, 0, min(len(s), most))
	for _, r := range s {
		if len(out) == most {
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
