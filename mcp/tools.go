package mcp

import (
	"context"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/perspectives"
)

func (s *Server) addTools() {
	sdk.AddTool(s.srv, &sdk.Tool{
		Name: "get_perspectives",
		Description: "Ask several AI models the same prompt at once and get every answer side by side, each with its " +
			"token usage and cost. Models run in parallel; one that fails is reported without failing the others.",
	}, s.getPerspectives)
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "list_models",
		Description: "List the models you can ask (provider/model names) with their prices per million tokens.",
	}, s.listModels)
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "usage_summary",
		Description: "Summarise your Polydev usage (requests, tokens, cost) over the last days, in total and by model.",
	}, s.usageSummary)
}

// ModelsInput is list_models' arguments (none).
type ModelsInput struct{}

// ModelInfo is one model list_models offers.
type ModelInfo struct {
	Model         string  `json:"model"`
	Provider      string  `json:"provider"`
	InputPerMTok  float64 `json:"input_usd_per_mtok"` // dollars: MCP tools declare JSON Schema types
	OutputPerMTok float64 `json:"output_usd_per_mtok"`
}

// ModelsOutput is list_models' result.
type ModelsOutput struct {
	Models []ModelInfo `json:"models"`
}

func (s *Server) listModels(ctx context.Context, req *sdk.CallToolRequest, _ ModelsInput) (*sdk.CallToolResult, ModelsOutput, error) {
	u, err := caller(req.Extra)
	if err != nil {
		return nil, ModelsOutput{}, err
	}
	models, err := s.d.Router.Models(ctx, u)
	if err != nil {
		return toolError(err), ModelsOutput{}, nil
	}
	out := ModelsOutput{Models: []ModelInfo{}}
	for _, m := range models {
		out.Models = append(out.Models, ModelInfo{Model: m.Model, Provider: string(m.Provider()), InputPerMTok: m.InputPerMTok.Dollars(), OutputPerMTok: m.OutputPerMTok.Dollars()})
	}
	return nil, out, nil
}

// UsageInput is usage_summary's arguments.
type UsageInput struct {
	Days int `json:"days,omitempty" jsonschema:"how many UTC days back to sum, today included (1-366, default 30)"`
}

// UsageTotals sums usage records.
type UsageTotals struct {
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	Cost         float64 `json:"cost_usd"`
}

// ModelUsage is one model's share.
type ModelUsage struct {
	Model string `json:"model"`
	UsageTotals
}

// UsageOutput is usage_summary's result.
type UsageOutput struct {
	Since   string       `json:"since"` // the first UTC day summed, YYYY-MM-DD
	Totals  UsageTotals  `json:"totals"`
	ByModel []ModelUsage `json:"by_model"`
}

func (s *Server) usageSummary(ctx context.Context, req *sdk.CallToolRequest, in UsageInput) (*sdk.CallToolResult, UsageOutput, error) {
	u, err := caller(req.Extra)
	if err != nil {
		return nil, UsageOutput{}, err
	}
	days := in.Days
	if days == 0 {
		days = 30
	}
	if days < 1 || days > 366 {
		return toolError(polydev.Errorf(polydev.EINVALID, "days must be between 1 and 366")), UsageOutput{}, nil
	}
	since := s.d.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-days)
	st, err := s.d.Store.UsageStats(ctx, u.ID, since)
	if err != nil {
		return toolError(err), UsageOutput{}, nil
	}
	out := UsageOutput{Since: since.Format(time.DateOnly), Totals: totals(st.Totals), ByModel: []ModelUsage{}}
	for _, b := range st.ByModel {
		out.ByModel = append(out.ByModel, ModelUsage{Model: b.Key, UsageTotals: totals(b.UsageTotals)})
	}
	return nil, out, nil
}

func totals(t polydev.UsageTotals) UsageTotals {
	return UsageTotals{Requests: t.Requests, Errors: t.Errors, InputTokens: t.InputTokens, OutputTokens: t.OutputTokens, Cost: t.Cost.Dollars()}
}

// toolError is a tool's failure as MCP reports one the model should see (isError, with the
// gateway's client-safe message), rather than a protocol error.
func toolError(err error) *sdk.CallToolResult {
	a := perspectives.Failed("", err)
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: a.Error.Message}}}
}
