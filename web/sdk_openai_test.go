package web

import (
	"encoding/json"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestOpenAISDK: the official OpenAI Go SDK, pointed at Polydev's /v1, completes plain, streamed and
// tool-call conversations routed to each fake upstream; text, tool arguments, stop reason and the
// recorded token counts match what the upstream sent.
func TestOpenAISDK(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, u := e.apiUser("sdk-openai@example.com", polydev.TierFree)
	client := openai.NewClient(option.WithBaseURL(e.ts.URL+"/v1"), option.WithAPIKey(token), option.WithMaxRetries(0))

	text := testkit.Script{Text: "Hello from the fake upstream, nice to meet you", Chunks: 4,
		Usage: testkit.Usage{PromptTokens: 1200, CompletionTokens: 80, CachedTokens: 1024, ReasoningTokens: 32}}
	tool := testkit.Script{ToolCalls: []testkit.ToolCall{{Name: "get_weather", Arguments: `{"location":"Paris","unit":"c"}`, Fragments: 3}},
		Usage: testkit.Usage{PromptTokens: 300, CompletionTokens: 20}}

	for _, f := range fakes {
		t.Run(f.provider, func(t *testing.T) {
			// Plain.
			f.up.SetScript(text)
			resp, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
				Model:    f.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
			})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Choices[0].Message.Content != text.Text || resp.Choices[0].FinishReason != "stop" {
				t.Fatalf("plain: %q finish %q", resp.Choices[0].Message.Content, resp.Choices[0].FinishReason)
			}
			if resp.Usage.PromptTokens != int64(text.Usage.PromptTokens) || resp.Usage.CompletionTokens != int64(text.Usage.CompletionTokens) {
				t.Fatalf("plain usage = %+v", resp.Usage)
			}
			checkUsage(t, e.usageOf(u)[0], text, f.model, polydev.UsageOK)

			// Streamed, with the usage chunk.
			stream := client.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{
				Model:         f.model,
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			var acc openai.ChatCompletionAccumulator
			chunks := 0
			for stream.Next() {
				acc.AddChunk(stream.Current())
				chunks++
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if acc.Choices[0].Message.Content != text.Text || acc.Choices[0].FinishReason != "stop" || chunks < 4 {
				t.Fatalf("stream: %q finish %q in %d chunks", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason, chunks)
			}
			if acc.Usage.PromptTokens != int64(text.Usage.PromptTokens) || acc.Usage.CompletionTokens != int64(text.Usage.CompletionTokens) {
				t.Fatalf("stream usage = %+v", acc.Usage)
			}
			rec := e.usageOf(u)[0]
			checkUsage(t, rec, text, f.model, polydev.UsageOK)
			if !rec.Stream {
				t.Fatal("stream not recorded as a stream")
			}

			// Tool call, streamed.
			f.up.SetScript(tool)
			params := openai.ChatCompletionNewParams{
				Model:    f.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris?")},
				Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
					Name: "get_weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}},
				})},
			}
			ts := client.Chat.Completions.NewStreaming(t.Context(), params)
			acc = openai.ChatCompletionAccumulator{}
			for ts.Next() {
				acc.AddChunk(ts.Current())
			}
			if err := ts.Err(); err != nil {
				t.Fatal(err)
			}
			calls := acc.Choices[0].Message.ToolCalls
			if len(calls) != 1 || calls[0].Function.Name != "get_weather" || acc.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("tool stream = %+v finish %q", calls, acc.Choices[0].FinishReason)
			}
			var args map[string]string
			if err := json.Unmarshal([]byte(calls[0].Function.Arguments), &args); err != nil || args["location"] != "Paris" {
				t.Fatalf("tool arguments %q: %v", calls[0].Function.Arguments, err)
			}
			// Tool call, not streamed.
			resp, err = client.Chat.Completions.New(t.Context(), params)
			if err != nil {
				t.Fatal(err)
			}
			if tc := resp.Choices[0].Message.ToolCalls; len(tc) != 1 || !sameJSON(t, tc[0].Function.Arguments, `{"location":"Paris","unit":"c"}`) {
				t.Fatalf("tool call = %+v", tc)
			}
			checkUsage(t, e.usageOf(u)[0], tool, f.model, polydev.UsageOK)
		})
	}
}
