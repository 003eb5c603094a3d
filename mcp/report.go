package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/polydev/polydev"
)

// ReportError is the server's refusal of a CLI status report.
type ReportError struct {
	Status  int
	Message string
}

func (e *ReportError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// ReportCLI sends one CLI's status to the server's POST /api/cli-status-update (the seed's fields)
// with the MCP token as a bearer token.
func ReportCLI(ctx context.Context, server, token string, st *polydev.CLIStatus, rt http.RoundTripper) error {
	body, err := json.Marshal(map[string]any{
		"provider": st.Provider, "status": st.Status, "cliVersion": st.Version, "cliPath": st.Path,
		"authenticated": st.Authenticated, "machine": st.Machine,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(server, "/")+"/api/cli-status-update", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	return &ReportError{Status: resp.StatusCode, Message: msg}
}
