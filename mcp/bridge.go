package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/perspectives"
)

// BridgeConfig configures `polydev mcp`.
type BridgeConfig struct {
	Server  string // the Polydev server's base URL
	Token   string // an MCP token (pdm_...)
	Machine string // this machine's name in CLI status reports
	Log     *slog.Logger
	// Transport carries requests to the server (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// Detect finds the coding CLIs to report, quickly (nil: no report); Versions then adds what
	// takes longer to learn (nil: nothing), and the CLIs are reported again.
	Detect   func() []polydev.CLIStatus
	Versions func(ctx context.Context, sts []polydev.CLIStatus)
}

// Bridge is a local MCP server (stdio, for a coding agent) whose tools are the Polydev server's:
// each call, and its progress notifications, are forwarded as they are.
type Bridge struct {
	cfg    BridgeConfig
	remote *sdk.ClientSession
	local  *sdk.Server

	mu       sync.Mutex
	progress map[string]*relay // progress token → the call that asked
}

// relay is one forwarded call's progress: where its notifications go, and a signal per
// notification passed on.
type relay struct {
	ss     *sdk.ServerSession
	passed chan struct{}
}

// NewBridge connects to the server and offers its tools locally.
func NewBridge(ctx context.Context, cfg BridgeConfig) (*Bridge, error) {
	b := &Bridge{cfg: cfg, progress: map[string]*relay{}}
	client := sdk.NewClient(&sdk.Implementation{Name: "polydev-mcp", Version: polydev.Version}, &sdk.ClientOptions{
		ProgressNotificationHandler: b.relayProgress,
	})
	remote, err := client.Connect(ctx, RemoteTransport(cfg.Server, cfg.Token, cfg.Transport), nil)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s/mcp: %w", cfg.Server, err)
	}
	b.remote = remote
	tools, err := remote.ListTools(ctx, nil)
	if err != nil {
		_ = remote.Close()
		return nil, fmt.Errorf("listing the server's tools: %w", err)
	}
	b.local = sdk.NewServer(&sdk.Implementation{Name: "polydev", Title: "Polydev", Version: polydev.Version}, &sdk.ServerOptions{
		Instructions: remote.InitializeResult().Instructions,
		Logger:       cfg.Log,
	})
	for _, t := range tools.Tools {
		if m, ok := t.InputSchema.(map[string]any); !ok || m["type"] != "object" {
			cfg.Log.Warn("skipping a tool whose input schema is not an object", "tool", t.Name)
			continue
		}
		b.local.AddTool(t, b.forward)
	}
	return b, nil
}

// Serve runs the local server on t (stdio for `polydev mcp`) until the agent disconnects or ctx
// ends, reporting the machine's coding CLIs to the server meanwhile.
func (b *Bridge) Serve(ctx context.Context, t sdk.Transport) error {
	defer b.remote.Close()
	reported := make(chan struct{})
	if b.cfg.Detect != nil {
		// Not tied to ctx: an agent that ends its session quickly (a one-shot `claude -p`) should
		// not cut the report short; Serve waits for it below, within its own bound.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportBound)
		defer cancel()
		go func() {
			defer close(reported)
			b.reportCLIs(rctx)
		}()
	} else {
		close(reported)
	}
	err := b.local.Run(ctx, t)
	<-reported
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// reportBound bounds the CLI report: detection (each CLI's --version) and the requests.
const reportBound = 30 * time.Second

// forward passes one tool call to the server. The agent's progress token goes along, so the
// server's notifications come back under it.
func (b *Bridge) forward(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	params := &sdk.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments}
	tok := req.Params.GetProgressToken()
	if tok == nil {
		return b.remote.CallTool(ctx, params)
	}
	// The token as the agent sent it (JSON gives a number as float64, which SetProgressToken
	// refuses), with the rest of the request's _meta.
	params.Meta = maps.Clone(req.Params.Meta)
	key := fmt.Sprint(tok)
	rl := &relay{ss: req.Session, passed: make(chan struct{}, perspectives.MaxModels)}
	b.mu.Lock()
	b.progress[key] = rl
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.progress, key)
		b.mu.Unlock()
	}()
	res, err := b.remote.CallTool(ctx, params)
	if err == nil {
		b.awaitProgress(ctx, rl, res)
	}
	return res, err
}

// awaitProgress holds a get_perspectives result until the progress notifications that preceded
// it on the server's stream have been passed on: the SDK's client hands a response to its caller
// at once but runs notification handlers from a queue, and a notification after the response
// would break the protocol's order. The server sends one per answer. The wait is bounded, in case
// one was lost on the way.
func (b *Bridge) awaitProgress(ctx context.Context, rl *relay, res *sdk.CallToolResult) {
	m, _ := res.StructuredContent.(map[string]any)
	answers, _ := m["answers"].([]any)
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for range answers {
		select {
		case <-rl.passed:
		case <-timeout.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (b *Bridge) relayProgress(ctx context.Context, r *sdk.ProgressNotificationClientRequest) {
	b.mu.Lock()
	rl := b.progress[fmt.Sprint(r.Params.ProgressToken)]
	b.mu.Unlock()
	if rl == nil {
		return
	}
	_ = rl.ss.NotifyProgress(ctx, r.Params)
	select {
	case rl.passed <- struct{}{}:
	default:
	}
}

// reportCLIs reports what Detect found at once, then again with versions: an agent may end the
// session (and this process) before every CLI has answered --version.
func (b *Bridge) reportCLIs(ctx context.Context) {
	sts := b.cfg.Detect()
	if !b.report(ctx, sts) || b.cfg.Versions == nil {
		return
	}
	b.cfg.Versions(ctx, sts)
	var found []polydev.CLIStatus
	for _, st := range sts {
		if st.Path != "" {
			found = append(found, st)
		}
	}
	b.report(ctx, found)
}

// report sends each status; false when the server refused for good (the tier lacks the feature).
func (b *Bridge) report(ctx context.Context, sts []polydev.CLIStatus) bool {
	for _, st := range sts {
		st.Machine = b.cfg.Machine
		if err := ReportCLI(ctx, b.cfg.Server, b.cfg.Token, &st, b.cfg.Transport); err != nil {
			b.cfg.Log.Warn("CLI status not reported", "cli", st.Provider, "err", err)
			var re *ReportError
			if errors.As(err, &re) && re.Status == http.StatusForbidden {
				return false // the tier does not have it: the others would be refused as well
			}
			continue
		}
		b.cfg.Log.Info("CLI status reported", "cli", st.Provider, "status", st.Status, "version", st.Version, "signed_in", st.Authenticated)
	}
	return true
}
