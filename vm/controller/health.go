package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/polydev/polydev"
)

// agentHealthy polls the guest agent's GET /health (agent.HealthReport; only its status matters
// here) through dial until it says "healthy" or ctx ends. The agent answers 200 while it is still
// bringing the browser up, so the body, not the status code, decides.
func agentHealthy(ctx context.Context, dial DialFunc, every time.Duration) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, polydev.VMPortAgent) },
		DisableKeepAlives: true,
	}}
	defer client.CloseIdleConnections()
	last := fmt.Errorf("no answer yet")
	for {
		h, err := healthStatus(ctx, client)
		if err == nil && h.Status == "healthy" {
			return nil
		}
		switch {
		case err == nil:
			last = fmt.Errorf("agent status %q%s", h.Status, h.waiting())
		case ctx.Err() == nil: // a probe cut short by the deadline says nothing new
			last = err
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}

// health is the part of agent.HealthReport the controller reads.
type health struct {
	Status   string `json:"status"`
	Browser  bool   `json:"browser"`
	Children []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"children"`
}

// waiting names the children that are not ready, for the error of a boot that timed out.
func (h health) waiting() string {
	var out []string
	for _, c := range h.Children {
		if c.State != "ready" {
			out = append(out, c.Name+"="+c.State)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}

func healthStatus(ctx context.Context, client *http.Client) (health, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent/health", nil)
	if err != nil {
		return health{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return health{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return health{}, fmt.Errorf("agent /health answered %d", resp.StatusCode)
	}
	var h health
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&h); err != nil {
		return health{}, fmt.Errorf("agent /health body: %w", err)
	}
	return h, nil
}
