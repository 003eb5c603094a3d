package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/perspectives"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/mcp"
)

// mcpToken creates an MCP token for the cookie's user and returns its secret and id.
func (e *env) mcpToken(cookie string) (secret, id string) {
	e.t.Helper()
	var out struct{ Token, ID, Hint string }
	e.want(e.do("POST", "/api/mcp/tokens", map[string]string{"name": "agent"}, "Cookie", cookie), http.StatusCreated).json(e.t, &out)
	if !strings.HasPrefix(out.Token, "pdm_") || !strings.HasPrefix(out.Hint, "pdm_…") {
		e.t.Fatalf("MCP token %q (hint %q) lacks the pdm_ prefix", out.Token, out.Hint)
	}
	return out.Token, out.ID
}

// progressLog collects progress notifications.
type progressLog struct {
	mu  sync.Mutex
	got []*sdk.ProgressNotificationParams
}

func (p *progressLog) add(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, r.Params)
}

// wait returns the notifications once n have arrived. The SDK's client returns a call's result
// at once but runs notification handlers from a queue, so those sent before the result may still
// be on their way.
func (p *progressLog) wait(t *testing.T, n int) []*sdk.ProgressNotificationParams {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		got := slices.Clone(p.got)
		p.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
	}
}

// mcpClient connects the Go SDK's client to the env's /mcp over Streamable HTTP.
func (e *env) mcpClient(token string, prog *progressLog) *sdk.ClientSession {
	e.t.Helper()
	opts := &sdk.ClientOptions{}
	if prog != nil {
		opts.ProgressNotificationHandler = prog.add
	}
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, opts)
	cs, err := c.Connect(e.t.Context(), mcp.RemoteTransport(e.ts.URL, token, e.ts.Client().Transport), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// perspectivesOf calls get_perspectives and decodes its structured result.
func perspectivesOf(t *testing.T, cs *sdk.ClientSession, args map[string]any, progressToken any) (*sdk.CallToolResult, perspectives.Output) {
	t.Helper()
	params := &sdk.CallToolParams{Name: "get_perspectives", Arguments: args}
	if progressToken != nil {
		params.SetProgressToken(progressToken)
	}
	res, err := cs.CallTool(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	var out perspectives.Output
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
	}
	return res, out
}

// TestMCPGetPerspectives: the Go SDK's client lists the tools and asks three providers at once;
// each answer has its model, text, usage and cost (the usage record's), progress arrives per
// answer, and each answer is a gateway request with its own usage record.
func TestMCPGetPerspectives(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := gatewayEnv(t, engine)
			scripts := map[string]testkit.Script{}
			var fs []fake
			for _, f := range e.platformFakes() {
				s := testkit.Script{Text: "view of " + f.provider, Usage: testkit.Usage{PromptTokens: 40, CompletionTokens: 9}}
				f.up.SetScript(s)
				scripts[f.model] = s
				fs = append(fs, f)
			}
			cookie := e.userWithTier("mcp@example.com", polydev.TierPro)
			u := mustUser(t, e, "mcp@example.com")
			token, _ := e.mcpToken(cookie)
			prog := &progressLog{}
			cs := e.mcpClient(token, prog)

			tools, err := cs.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range tools.Tools {
				names = append(names, tl.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, []string{"get_perspectives", "list_models", "usage_summary"}) {
				t.Fatalf("tools = %v", names)
			}

			models := []string{fs[0].model, fs[1].model, fs[2].model}
			res, out := perspectivesOf(t, cs, map[string]any{"prompt": "Which sorting algorithm?", "models": models}, "p1")
			if res.IsError || len(out.Answers) != 3 {
				t.Fatalf("result = %+v", out)
			}
			recs := e.usageOf(u)
			if len(recs) != 3 {
				t.Fatalf("%d usage records, want 3", len(recs))
			}
			text := res.Content[0].(*sdk.TextContent).Text
			for i, a := range out.Answers {
				s := scripts[models[i]]
				if a.Model != models[i] || a.Text != s.Text || a.Error != nil || a.Usage.InputTokens != 40 || a.Usage.OutputTokens != 9 || a.Cost <= 0 {
					t.Fatalf("answer %d = %+v", i, a)
				}
				if !strings.Contains(text, "## "+a.Model) || !strings.Contains(text, s.Text) {
					t.Fatalf("text content lacks %s's answer: %s", a.Model, text)
				}
				j := slices.IndexFunc(recs, func(r *polydev.UsageRecord) bool { return r.Model == a.Model })
				if j < 0 || recs[j].Surface != "mcp" || recs[j].Cost.Dollars() != a.Cost || recs[j].Status != polydev.UsageOK {
					t.Fatalf("no matching usage record for %+v in %+v", a, recs)
				}
				if got := fs[i].up.LastRequest().Model(); !strings.Contains(models[i], got) {
					t.Fatalf("%s's upstream was asked for %q", models[i], got)
				}
			}
			if out.TotalCost != (recs[0].Cost + recs[1].Cost + recs[2].Cost).Dollars() {
				t.Fatalf("total cost %v", out.TotalCost)
			}
			got := prog.wait(t, 3)
			if len(got) != 3 {
				t.Fatalf("%d progress notifications, want 3: %+v", len(got), got)
			}
			for i, p := range got {
				if p.ProgressToken != "p1" || p.Progress != float64(i+1) || p.Total != 3 || !strings.Contains(p.Message, "answered") {
					t.Fatalf("progress %d = %+v", i, p)
				}
			}

			// Not ephemeral (platform keys): each model's turn is a stored conversation (kept once
			// the answers went out).
			if err := e.srv.mcp.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			convs, err := e.store.ListConversations(t.Context(), u.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(convs) != 3 {
				t.Fatalf("%d conversations stored, want 3", len(convs))
			}

			// Defaults: no models named asks one per provider.
			_, out = perspectivesOf(t, cs, map[string]any{"prompt": "again"}, nil)
			if len(out.Answers) != 3 {
				t.Fatalf("default models answered %+v", out.Answers)
			}

			lm, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "list_models"})
			if err != nil || lm.IsError {
				t.Fatalf("list_models: %v %+v", err, lm)
			}
			us, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "usage_summary", Arguments: map[string]any{"days": 1}})
			if err != nil || us.IsError {
				t.Fatalf("usage_summary: %v %+v", err, us)
			}
			var sum mcp.UsageOutput
			b, _ := json.Marshal(us.StructuredContent)
			if err := json.Unmarshal(b, &sum); err != nil || sum.Totals.Requests != 6 || len(sum.ByModel) != 3 {
				t.Fatalf("usage_summary = %+v (%v)", sum, err)
			}
		})
	}
}

// TestMCPFailingModel: a model whose upstream fails is one failed answer; the others answer.
func TestMCPFailingModel(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fs := e.platformFakes()
	fs[1].up.SetScript(testkit.ErrorScript(500))
	cookie := e.userWithTier("fail@example.com", polydev.TierPro)
	token, _ := e.mcpToken(cookie)
	cs := e.mcpClient(token, nil)
	res, out := perspectivesOf(t, cs, map[string]any{"prompt": "hi", "models": []string{fs[0].model, fs[1].model, fs[2].model, "openai/no-such-model-xyz"}}, nil)
	if res.IsError || len(out.Answers) != 4 {
		t.Fatalf("result = %+v", out)
	}
	if out.Answers[0].Error != nil || out.Answers[2].Error != nil || out.Answers[0].Text == "" {
		t.Fatalf("healthy models failed: %+v", out.Answers)
	}
	bad := out.Answers[1].Error
	if bad == nil || bad.Status != http.StatusBadGateway || !strings.Contains(bad.Message, "anthropic") {
		t.Fatalf("failing model's answer = %+v", out.Answers[1])
	}
	if out.Answers[3].Error == nil || out.Answers[3].Error.Status != http.StatusForbidden {
		t.Fatalf("unpriced model on a platform key = %+v", out.Answers[3])
	}
	if strings.Contains(res.Content[0].(*sdk.TextContent).Text, fs[1].up.Key) {
		t.Fatal("a provider key reached the tool's result")
	}
	// Every model failing is the tool's error.
	for _, f := range fs {
		f.up.SetScript(testkit.ErrorScript(500))
	}
	res, _ = perspectivesOf(t, cs, map[string]any{"prompt": "hi", "models": []string{fs[0].model, fs[2].model}}, nil)
	if !res.IsError {
		t.Fatal("all models failed but the result is not an error")
	}
	// Bad arguments: a tool error, nothing counted.
	res, _ = perspectivesOf(t, cs, map[string]any{"prompt": " "}, nil)
	if !res.IsError {
		t.Fatal("an empty prompt was accepted")
	}
}

// TestMCPLimitMidFanOut: a tier allowing two requests a day answers two of three models; the
// third is refused by the limit, reported on its own answer.
func TestMCPLimitMidFanOut(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fs := e.platformFakes()
	rows, err := e.store.ListTierLimits(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	two := int64(2)
	for _, l := range rows {
		if l.Tier == polydev.TierPro {
			l.RequestsPerDay = &two
		}
	}
	if err := e.store.PutTierLimits(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	cookie := e.userWithTier("limit@example.com", polydev.TierPro)
	token, _ := e.mcpToken(cookie)
	cs := e.mcpClient(token, nil)
	res, out := perspectivesOf(t, cs, map[string]any{"prompt": "hi", "models": []string{fs[0].model, fs[1].model, fs[2].model}}, nil)
	if res.IsError {
		t.Fatalf("result = %+v", out)
	}
	var ok, limited int
	for _, a := range out.Answers {
		switch {
		case a.Error == nil && a.Text != "":
			ok++
		case a.Error != nil && a.Error.Status == http.StatusTooManyRequests && a.Error.Code == polydev.ERATELIMIT &&
			strings.Contains(a.Error.Message, "requests per day") && a.Error.RetryAfterSeconds > 0:
			limited++
		default:
			t.Fatalf("unexpected answer %+v", a)
		}
	}
	if ok != 2 || limited != 1 {
		t.Fatalf("%d answered, %d limited; want 2 and 1", ok, limited)
	}
}

// TestMCPTokenScope: an MCP token reaches /mcp and the CLI status report only. An admin's MCP token
// is refused on the admin, account and gateway routes; a revoked or unknown one on /mcp as well.
func TestMCPTokenScope(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	cookie := e.signup("boss@example.com", pw)
	e.makeAdmin("boss@example.com")
	token, id := e.mcpToken(cookie)
	for _, path := range []string{"/api/admin/users", "/api/admin/stats", "/api/admin/providers", "/api/account/me", "/api/account/tokens", "/api/mcp/tokens", "/api/dashboard/stats"} {
		got := e.want(e.do("GET", path, nil, "Authorization", "Bearer "+token), http.StatusForbidden).errorBody(t)
		if !strings.Contains(got.Message, "MCP tokens") {
			t.Fatalf("%s: %q", path, got.Message)
		}
	}
	e.want(e.do("POST", "/api/account/tokens", map[string]string{"name": "x"}, "Authorization", "Bearer "+token), http.StatusForbidden)
	e.want(e.do("POST", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[]}`, "Authorization", "Bearer "+token), http.StatusForbidden)
	e.want(e.do("GET", "/api/account/me", nil, "X-Api-Key", token), http.StatusForbidden)

	// The token works where it is meant to.
	cs := e.mcpClient(token, nil)
	if _, err := cs.ListTools(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	// An API token works on /mcp too; a session cookie does not.
	api, _ := e.token(cookie)
	if _, err := e.mcpClient(api, nil).ListTools(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	e.want(e.do("POST", "/mcp", init, "Cookie", cookie, "Accept", "application/json, text/event-stream"), http.StatusUnauthorized).errorBody(t)
	e.want(e.do("POST", "/mcp", init, "Authorization", "Bearer pdm_garbage"), http.StatusUnauthorized).errorBody(t)

	// MCP tokens are listed and revoked apart from API tokens.
	var list struct{ Tokens []struct{ ID, Hint string } }
	e.want(e.do("GET", "/api/mcp/tokens", nil, "Cookie", cookie), http.StatusOK).json(t, &list)
	if len(list.Tokens) != 1 || list.Tokens[0].ID != id {
		t.Fatalf("MCP tokens = %+v", list)
	}
	e.want(e.do("DELETE", "/api/account/tokens/"+id, nil, "Cookie", cookie), http.StatusNotFound)
	e.want(e.do("DELETE", "/api/mcp/tokens/"+id, nil, "Cookie", cookie), http.StatusNoContent)
	e.want(e.do("POST", "/mcp", init, "Authorization", "Bearer "+token, "Accept", "application/json, text/event-stream"), http.StatusUnauthorized).errorBody(t)
}

// TestCLIStatusUpdate: the seed's report, pro tier and up, per machine; listed for the owner only.
func TestCLIStatusUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	free := e.userWithTier("free-cli@example.com", polydev.TierFree)
	freeToken, _ := e.mcpToken(free)
	report := map[string]any{"provider": "claude_code", "status": "available", "cliVersion": "2.0.1", "cliPath": "/usr/bin/claude", "authenticated": true, "machine": "laptop"}
	got := e.want(e.do("POST", "/api/cli-status-update", report, "Authorization", "Bearer "+freeToken), http.StatusForbidden).errorBody(t)
	if !strings.Contains(got.Message, "pro tier") {
		t.Fatalf("403 message: %q", got.Message)
	}
	pro := e.userWithTier("pro-cli@example.com", polydev.TierPro)
	proToken, _ := e.mcpToken(pro)
	e.want(e.do("POST", "/api/cli-status-update", report, "Authorization", "Bearer "+proToken), http.StatusOK)
	// The seed's form: the token in the body.
	seed := map[string]any{"provider": "gemini_cli", "status": "not_installed", "mcpToken": proToken}
	e.want(e.do("POST", "/api/cli-status-update", seed), http.StatusOK)
	for _, bad := range []map[string]any{
		{"provider": "vim", "status": "available"},
		{"provider": "codex_cli", "status": "sleeping"},
		{"provider": "codex_cli", "status": "available", "cliPath": strings.Repeat("x", 300)},
		{"provider": "codex_cli", "status": "available", "machine": "a\nb"},
	} {
		e.want(e.do("POST", "/api/cli-status-update", bad, "Authorization", "Bearer "+proToken), http.StatusBadRequest).errorBody(t)
	}
	e.want(e.do("POST", "/api/cli-status-update", report), http.StatusUnauthorized).errorBody(t)

	var list struct {
		CLIs []polydev.CLIStatus `json:"clis"`
	}
	e.want(e.do("GET", "/api/cli-status", nil, "Cookie", pro), http.StatusOK).json(t, &list)
	if len(list.CLIs) != 2 || list.CLIs[0].Machine != "default" || list.CLIs[0].Provider != polydev.CLIGemini ||
		list.CLIs[1].Machine != "laptop" || !list.CLIs[1].Authenticated || list.CLIs[1].Version != "2.0.1" {
		t.Fatalf("CLI status = %+v", list.CLIs)
	}
	e.want(e.do("GET", "/api/cli-status", nil, "Cookie", free), http.StatusOK).json(t, &list)
	if len(list.CLIs) != 0 {
		t.Fatalf("another user's rows leaked: %+v", list.CLIs)
	}
}
