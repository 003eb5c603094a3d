// Package selftest is the agent's self-test login: a minimal OAuth 2.0 native-app client that signs
// in the way the coding CLIs do (authorization code with PKCE S256, RFC 7636; a loopback redirect,
// RFC 8252 section 7.3): it listens on 127.0.0.1, opens the authorize URL with $BROWSER, takes the
// code from the callback, exchanges it at the token endpoint (through $HTTPS_PROXY like any CLI) and
// writes the token response to a credential file, mode 0600. The agent runs it as the provider
// "selftest" only when the host names an issuer on the kernel command line (polydev.selftest=); the
// end-to-end tests use it against a fake provider, so the whole flow — runner, pty, browser helper,
// egress proxy, CA trust, hand-back — is exercised without a real account.
//
// It must not import the agent package or anything of the server.
package selftest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Config is one sign-in.
type Config struct {
	Issuer   string // https://host[:port]; /authorize and /token below it
	ClientID string
	Out      string // credential file to write
	Browser  string // command that opens a URL; default $BROWSER
	Client   *http.Client
	Timeout  time.Duration // default 15 minutes, the user is signing in
}

// Run signs in once and writes cfg.Out.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.Out == "" {
		return errors.New("selftest: need an issuer, a client id and an output file")
	}
	if cfg.Browser == "" {
		cfg.Browser = os.Getenv("BROWSER")
	}
	if cfg.Client == nil {
		// The default transport honours HTTPS_PROXY. Its 10 s TLS handshake bound is too short in a
		// guest under TCG while Chromium renders the callback page on the same vCPUs (handshakes of
		// 4.6-10.4 s were seen through the egress proxy), so this one allows 45 s.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSHandshakeTimeout = 45 * time.Second
		cfg.Client = &http.Client{Transport: t, Timeout: 90 * time.Second}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	verifier := randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	state := randomString(16)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	codes := make(chan string, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/callback" || q.Get("state") != state || q.Get("code") == "" {
			http.Error(w, "not the sign-in this program started", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "Signed in. You can close this window.")
		select {
		case codes <- q.Get("code"):
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	auth := cfg.Issuer + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {cfg.ClientID}, "redirect_uri": {redirect},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {state},
	}.Encode()
	fmt.Println("Opening the browser to sign in. If it does not open, visit:")
	fmt.Println(auth)
	if cfg.Browser != "" {
		if out, err := exec.CommandContext(ctx, cfg.Browser, auth).CombinedOutput(); err != nil {
			fmt.Printf("browser: %v: %s\n", err, strings.TrimSpace(string(out)))
		}
	}
	var code string
	select {
	case code = <-codes:
	case <-ctx.Done():
		return fmt.Errorf("selftest: no callback: %w", ctx.Err())
	}
	tok, err := exchange(ctx, cfg, code, redirect, verifier)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Out), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.Out, tok, 0o600); err != nil {
		return err
	}
	fmt.Println("Login successful.")
	return nil
}

func exchange(ctx context.Context, cfg Config, code, redirect, verifier string) ([]byte, error) {
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {cfg.ClientID}, "code_verifier": {verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("selftest: token exchange: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("selftest: token exchange: %s", resp.Status)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return nil, errors.New("selftest: token endpoint sent no access_token")
	}
	return body, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
