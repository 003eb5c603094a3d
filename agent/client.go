package agent

// The host's side of the agent's API. The host reaches the agent through the VM's forward to port
// 3000 (vm.VMPortAgent); baseURL is whatever URL that client dials there (e.g. "http://agent" with a
// transport whose DialContext is the VM's Dial). Every function returns the agent's error message
// and code on a non-2xx answer, as an *AgentError.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// AgentError is a non-2xx answer from the agent.
type AgentError struct {
	Status  int
	Code    string
	Message string
}

func (e *AgentError) Error() string {
	return fmt.Sprintf("agent: %d %s: %s", e.Status, e.Code, e.Message)
}

// SetToken gives a freshly restored (or booted) guest its per-clone token: POST /token.
func SetToken(ctx context.Context, client *http.Client, baseURL, token string) error {
	return call(ctx, client, http.MethodPost, baseURL+"/token", "", TokenRequest{Token: token}, nil)
}

// StartLogin starts a provider's CLI login or opens a targetUrl: POST /login.
func StartLogin(ctx context.Context, client *http.Client, baseURL, token string, req LoginRequest) (LoginStatus, error) {
	var out LoginStatus
	err := call(ctx, client, http.MethodPost, baseURL+"/login", token, req, &out)
	return out, err
}

// GetLogin polls the login: GET /login.
func GetLogin(ctx context.Context, client *http.Client, baseURL, token string) (LoginStatus, error) {
	var out LoginStatus
	err := call(ctx, client, http.MethodGet, baseURL+"/login", token, nil, &out)
	return out, err
}

// CancelLogin stops a running login: DELETE /login.
func CancelLogin(ctx context.Context, client *http.Client, baseURL, token string) error {
	return call(ctx, client, http.MethodDelete, baseURL+"/login", token, nil, nil)
}

// TakeCredential fetches the completed login's credential file, once: GET /login/credential. The
// caller seals Content and clears it.
func TakeCredential(ctx context.Context, client *http.Client, baseURL, token string) (CredentialFile, error) {
	var out CredentialFile
	err := call(ctx, client, http.MethodGet, baseURL+"/login/credential", token, nil, &out)
	return out, err
}

// Autofill types credentials into the guest browser's login form: POST /credentials.
func Autofill(ctx context.Context, client *http.Client, baseURL, token string, c Credentials) error {
	return call(ctx, client, http.MethodPost, baseURL+"/credentials", token, c, nil)
}

// maxAnswer bounds what the host reads from a guest: credential files are a few KB.
const maxAnswer = 1 << 20

func call(ctx context.Context, client *http.Client, method, url, token string, in, out any) error {
	var body io.Reader
	var raw []byte
	if in != nil {
		var err error
		if raw, err = json.Marshal(in); err != nil {
			return err
		}
		defer clear(raw)
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("agent: %s %s: %w", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("agent: %s %s: %w", method, req.URL.Path, err)
	}
	defer clear(data)
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Message, Code string } `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return &AgentError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("agent: %s %s: decode answer: %w", method, req.URL.Path, err)
	}
	return nil
}
