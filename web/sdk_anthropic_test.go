package web

import (
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestAnthropicSDK: the official Anthropic Go SDK, pointed at Polydev, completes plain, streamed and
// tool-use conversations on /v1/messages routed to each fake upstream.
func TestAnthropicSDK(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, u := e.apiUser("sdk-anthropic@example.com", polydev.TierFree)
	client := anthropic.NewClient(option.WithBaseURL(e.ts.URL), option.WithAPIKey(token), option.WithMaxRetries(0))

	text := testkit.Script{Text: "Bonjour from the fake upstream", Chunks: 3,
		Usage: testkit.Usage{PromptTokens: 900, CompletionTokens: 40, CachedTokens: 512}}
	tool := testkit.Script{ToolCalls: []testkit.ToolCall{{Name: "get_weather", Arguments: `{"location":"Lyon"}`, Fragments: 2}},
		Usage: testkit.Usage{PromptTokens: 200, CompletionTokens: 15}}

	for _, f := range fakes {
		t.Run(f.provider, func(t *testing.T) {
			f.up.SetScript(text)
			params := anthropic.MessageNewParams{
				Model: anthropic.Model(f.model), MaxTokens: 256,
				System:   []anthropic.TextBlockParam{{Text: "be brief"}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
			}
			msg, err := client.Messages.New(t.Context(), params)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) != 1 || msg.Content[0].Text != text.Text || msg.StopReason != anthropic.StopReasonEndTurn {
				t.Fatalf("plain = %+v stop %q", msg.Content, msg.StopReason)
			}
			checkUsage(t, e.usageOf(u)[0], text, f.model, polydev.UsageOK)

			stream := client.Messages.NewStreaming(t.Context(), params)
			var acc anthropic.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if len(acc.Content) != 1 || acc.Content[0].Text != text.Text || acc.StopReason != anthropic.StopReasonEndTurn {
				t.Fatalf("stream = %+v stop %q", acc.Content, acc.StopReason)
			}
			if acc.Usage.OutputTokens != int64(text.Usage.CompletionTokens) {
				t.Fatalf("stream usage = %+v", acc.Usage)
			}
			checkUsage(t, e.usageOf(u)[0], text, f.model, polydev.UsageOK)

			f.up.SetScript(tool)
			params.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
				Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}},
			}}}
			ts := client.Messages.NewStreaming(t.Context(), params)
			acc = anthropic.Message{}
			for ts.Next() {
				if err := acc.Accumulate(ts.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := ts.Err(); err != nil {
				t.Fatal(err)
			}
			var use *anthropic.ToolUseBlock
			for _, b := range acc.Content {
				if b.Type == "tool_use" {
					tu := b.AsToolUse()
					use = &tu
				}
			}
			if use == nil || use.Name != "get_weather" || !sameJSON(t, string(use.Input), `{"location":"Lyon"}`) || acc.StopReason != anthropic.StopReasonToolUse {
				t.Fatalf("tool stream = %+v stop %q", acc.Content, acc.StopReason)
			}
			msg, err = client.Messages.New(t.Context(), params)
			if err != nil {
				t.Fatal(err)
			}
			if msg.StopReason != anthropic.StopReasonToolUse {
				t.Fatalf("tool plain stop = %q", msg.StopReason)
			}
			checkUsage(t, e.usageOf(u)[0], tool, f.model, polydev.UsageOK)
		})
	}
}
