package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestResponsesSDK: the official OpenAI Go SDK's Responses client, pointed at Polydev's /v1, gets
// plain and streamed text and a function tool round trip (store: false, as Codex sends) from each
// fake upstream; the text, the call, the usage the client sees and the usage record all match what
// the upstream sent.
func TestResponsesSDK(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, u := e.apiUser("sdk-responses@example.com", polydev.TierFree)
	client := openai.NewClient(option.WithBaseURL(e.ts.URL+"/v1"), option.WithAPIKey(token), option.WithMaxRetries(0))

	text := testkit.Script{Text: "Hello from the fake upstream, nice to meet you", Chunks: 4,
		Usage: testkit.Usage{PromptTokens: 1200, CompletionTokens: 80, CachedTokens: 1024, ReasoningTokens: 32}}
	tool := testkit.Script{ToolCalls: []testkit.ToolCall{{ID: "call_paris", Name: "get_weather", Arguments: `{"location":"Paris","unit":"c"}`, Fragments: 3}},
		Usage: testkit.Usage{PromptTokens: 300, CompletionTokens: 20}}
	weather := []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather",
		map[string]any{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}}, false)}

	for _, f := range fakes {
		t.Run(f.provider, func(t *testing.T) {
			// Plain.
			f.up.SetScript(text)
			resp, err := client.Responses.New(t.Context(), responses.ResponseNewParams{
				Model:        f.model,
				Instructions: openai.String("be brief"),
				Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
				Store:        openai.Bool(false),
			})
			if err != nil {
				t.Fatal(err)
			}
			if resp.OutputText() != text.Text || resp.Status != responses.ResponseStatusCompleted || !strings.HasPrefix(resp.ID, "resp_") {
				t.Fatalf("plain: %q status %q id %q", resp.OutputText(), resp.Status, resp.ID)
			}
			checkResponsesUsage(t, f.provider, resp.Usage, text.Usage)
			rec := e.usageOf(u)[0]
			checkUsage(t, rec, text, f.model, polydev.UsageOK)
			if rec.Surface != "responses" || rec.Stream {
				t.Fatalf("record surface %q stream %v", rec.Surface, rec.Stream)
			}

			// Streamed.
			stream := client.Responses.NewStreaming(t.Context(), responses.ResponseNewParams{
				Model: f.model,
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
				Store: openai.Bool(false),
			})
			var deltas strings.Builder
			var completed *responses.Response
			var types []string
			seq := int64(-1)
			for stream.Next() {
				ev := stream.Current()
				types = append(types, ev.Type)
				if ev.SequenceNumber != seq+1 {
					t.Fatalf("sequence_number %d after %d", ev.SequenceNumber, seq)
				}
				seq = ev.SequenceNumber
				switch ev.Type {
				case "response.output_text.delta":
					deltas.WriteString(ev.Delta)
				case "response.completed":
					r := ev.AsResponseCompleted().Response
					completed = &r
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			// (OpenAI's answer, passed through, starts its output with a reasoning item.)
			if len(types) < 8 || types[0] != "response.created" || types[1] != "response.in_progress" || types[len(types)-1] != "response.completed" ||
				!slices.Contains(types, "response.content_part.added") || !slices.Contains(types, "response.output_text.done") {
				t.Fatalf("event order %v", types)
			}
			if deltas.String() != text.Text || completed == nil || completed.OutputText() != text.Text {
				t.Fatalf("stream text %q, completed %+v", deltas.String(), completed)
			}
			checkResponsesUsage(t, f.provider, completed.Usage, text.Usage)
			rec = e.usageOf(u)[0]
			checkUsage(t, rec, text, f.model, polydev.UsageOK)
			if !rec.Stream {
				t.Fatal("stream not recorded as a stream")
			}

			// A function tool round trip: the call, streamed, then its output sent back.
			f.up.SetScript(tool)
			ts := client.Responses.NewStreaming(t.Context(), responses.ResponseNewParams{
				Model: f.model, Tools: weather, Store: openai.Bool(false),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("weather in Paris?")},
			})
			var call responses.ResponseFunctionToolCall
			var argDeltas strings.Builder
			for ts.Next() {
				ev := ts.Current()
				switch ev.Type {
				case "response.function_call_arguments.delta":
					argDeltas.WriteString(ev.Delta)
				case "response.output_item.done":
					if item := ev.AsResponseOutputItemDone().Item; item.Type == "function_call" {
						call = item.AsFunctionCall()
					}
				}
			}
			if err := ts.Err(); err != nil {
				t.Fatal(err)
			}
			if call.Name != "get_weather" || call.CallID == "" || !sameJSON(t, call.Arguments, `{"location":"Paris","unit":"c"}`) || !sameJSON(t, argDeltas.String(), call.Arguments) {
				t.Fatalf("function call = %+v (deltas %q)", call, argDeltas.String())
			}
			checkUsage(t, e.usageOf(u)[0], tool, f.model, polydev.UsageOK)

			f.up.SetScript(text)
			resp, err = client.Responses.New(t.Context(), responses.ResponseNewParams{
				Model: f.model, Tools: weather, Store: openai.Bool(false),
				Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
					responses.ResponseInputItemParamOfMessage("weather in Paris?", responses.EasyInputMessageRoleUser),
					responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name),
					functionOutput(call.CallID, `{"temperature":"21C"}`),
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if resp.OutputText() != text.Text {
				t.Fatalf("after the tool: %q", resp.OutputText())
			}
			if body := string(f.up.LastRequest().Body); !strings.Contains(body, `21C`) || !strings.Contains(body, "get_weather") {
				t.Fatalf("the upstream did not receive the tool result: %s", body)
			}
		})
	}
}

// functionOutput is a function_call_output item answering callID.
func functionOutput(callID, output string) responses.ResponseInputItemUnionParam {
	item := responses.ResponseInputItemParamOfFunctionCallOutput(output)
	item.OfFunctionCallOutput.CallID = openai.String(callID)
	return item
}

// checkResponsesUsage compares the usage a Responses client sees with what the upstream reported.
func checkResponsesUsage(t *testing.T, provider string, got responses.ResponseUsage, want testkit.Usage) {
	t.Helper()
	reasoning := int64(want.ReasoningTokens)
	if provider == "anthropic" {
		reasoning = 0 // Anthropic does not report thinking tokens apart from output tokens
	}
	if got.InputTokens != int64(want.PromptTokens) || got.InputTokensDetails.CachedTokens != int64(want.CachedTokens) ||
		got.OutputTokens != int64(want.CompletionTokens) || got.OutputTokensDetails.ReasoningTokens != reasoning ||
		got.TotalTokens != int64(want.Total()) {
		t.Fatalf("usage = %+v, want %+v", got, want)
	}
}

// openaiErrorOf checks that r is exactly OpenAI's error shape, {"error":{"message","type","param","code"}},
// and returns it.
func openaiErrorOf(t *testing.T, r *resp) ErrorDetail {
	t.Helper()
	var b struct {
		Error struct {
			ErrorDetail
			Param *string `json:"param"`
		} `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error.Message == "" || b.Error.Type == "" || b.Error.Code == "" ||
		r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d: not OpenAI's error shape (%v): %s", r.status, err, r.body)
	}
	return b.Error.ErrorDetail
}

// TestResponsesErrors: refusals and upstream failures reach a Responses client in OpenAI's error
// shape with their status, the SDK reads them, and nothing is sent upstream for a bad request.
func TestResponsesErrors(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, _ := e.apiUser("responses-errors@example.com", polydev.TierFree)
	auth := "Bearer " + token
	before := fakes[1].up.RequestCount()

	for _, tc := range []struct {
		name, body, inMessage string
		status                int
	}{
		{"no input", `{"model":"anthropic/claude-haiku-4-5"}`, "input", 400},
		{"previous response", `{"model":"anthropic/claude-haiku-4-5","input":"hi","previous_response_id":"resp_1"}`, "previous_response_id", 400},
		{"hosted tool", `{"model":"anthropic/claude-haiku-4-5","input":"hi","tools":[{"type":"computer_use_preview"}]}`, "tools[0].type", 400},
		{"unknown item", `{"model":"anthropic/claude-haiku-4-5","input":[{"type":"local_shell_call","call_id":"c"}]}`, "input[0].type", 400},
		{"orphan output", `{"model":"anthropic/claude-haiku-4-5","input":[{"type":"function_call_output","call_id":"c","output":"x"}]}`, "input[0].call_id", 400},
		{"bad json", `{"model":`, "JSON", 400},
		{"unknown model", `{"model":"nosuch/model","input":"hi"}`, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/v1/responses", tc.body, "Authorization", auth)
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if d := openaiErrorOf(t, r); !strings.Contains(d.Message, tc.inMessage) || d.Type != "invalid_request_error" {
				t.Fatalf("error = %+v", d)
			}
		})
	}
	if n := fakes[1].up.RequestCount(); n != before {
		t.Fatalf("bad requests reached the upstream: %d requests", n-before)
	}

	// No token: 401 in the same shape.
	openaiErrorOf(t, e.want(e.do("POST", "/v1/responses", `{"model":"openai/gpt-4o-mini","input":"hi"}`), http.StatusUnauthorized))
	// Polydev keeps no responses: reading or deleting one is a 404 that says so.
	for _, m := range []string{"GET", "DELETE"} {
		d := openaiErrorOf(t, e.want(e.do(m, "/v1/responses/resp_abc", nil, "Authorization", auth), http.StatusNotFound))
		if !strings.Contains(d.Message, "does not store responses") {
			t.Fatalf("%s: %+v", m, d)
		}
	}

	// An upstream 429, through the SDK: the status and OpenAI's error type arrive.
	client := openai.NewClient(option.WithBaseURL(e.ts.URL+"/v1"), option.WithAPIKey(token), option.WithMaxRetries(0))
	for _, f := range fakes {
		f.up.SetScript(testkit.ErrorScript(429))
		_, err := client.Responses.New(t.Context(), responses.ResponseNewParams{Model: f.model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Type != "rate_limit_error" {
			t.Fatalf("%s: %v", f.provider, err)
		}
	}

	// A failure after content: response.failed carries the error; the partial usage is billed.
	streamErr := testkit.DefaultScript()
	streamErr.StreamError = &testkit.StreamError{AfterDeltas: 2}
	fakes[1].up.SetScript(streamErr)
	r := e.want(e.do("POST", "/v1/responses", `{"model":"anthropic/claude-haiku-4-5","input":"hi","stream":true}`, "Authorization", auth), http.StatusOK)
	events, err := testkit.ParseSSE(r.body)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	var failed struct {
		Response struct {
			Status string
			Error  struct{ Code, Message string }
		}
	}
	if err := json.Unmarshal([]byte(last.Data), &failed); err != nil || last.Event != "response.failed" ||
		failed.Response.Status != "failed" || failed.Response.Error.Code != "server_error" || !strings.Contains(failed.Response.Error.Message, "anthropic") {
		t.Fatalf("last event %s %s (%v)", last.Event, last.Data, err)
	}
}

// TestResponsesCodexRecordings: the requests Codex CLI sent (recorded by e2e/agents) go through.
// To an OpenAI model the body reaches the upstream as Codex wrote it, only the model rewritten,
// with openai-beta and nothing else of the client's headers; to Anthropic and Gemini it is
// translated. Usage is recorded exactly either way.
func TestResponsesCodexRecordings(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, u := e.apiUser("codex-recordings@example.com", polydev.TierFree)
	s := testkit.Script{Text: "Hello from the fake", Usage: testkit.Usage{PromptTokens: 12000, CompletionTokens: 30, CachedTokens: 8000, ReasoningTokens: 10}}
	for _, f := range fakes {
		f.up.SetScript(s)
	}

	for _, file := range []string{"responses_prompt.json", "responses_function_call_output.json", "responses_model_anthropic.json"} {
		recorded := testkit.Payload("agents/codex/" + file)
		var in struct{ Model string }
		if err := json.Unmarshal(recorded, &in); err != nil {
			t.Fatal(err)
		}
		for _, f := range fakes {
			t.Run(file+"/"+f.provider, func(t *testing.T) {
				body := strings.Replace(string(recorded), `"model":"`+in.Model+`"`, `"model":"`+f.model+`"`, 1)
				n := f.up.RequestCount()
				r := e.do("POST", "/v1/responses", body, "Authorization", "Bearer "+token, "OpenAI-Beta", "responses=experimental", "Originator", "codex_exec")
				if r.status != http.StatusOK || f.up.RequestCount() != n+1 {
					t.Fatalf("status %d, %d upstream requests: %s", r.status, f.up.RequestCount()-n, r.body)
				}
				events, err := testkit.ParseSSE(r.body)
				if err != nil || events[len(events)-1].Event != "response.completed" || !strings.Contains(string(r.body), `"delta":"Hello `) {
					t.Fatalf("stream (%v): %s", err, r.body)
				}
				up := f.up.LastRequest()
				if f.provider == "openai" {
					_, upstreamModel, _ := polydev.SplitModel(f.model)
					if want := strings.Replace(body, `"model":"`+f.model+`"`, `"model":"`+upstreamModel+`"`, 1); string(up.Body) != want {
						t.Fatalf("the body was not passed through as written")
					}
					if up.Header.Get("Openai-Beta") != "responses=experimental" || up.Header.Get("Originator") != "" || up.Key != f.up.Key {
						t.Fatalf("upstream headers %v", up.Header)
					}
				} else if strings.Contains(string(up.Body), "web_search") || !strings.Contains(string(up.Body), "Say hello") && !strings.Contains(string(up.Body), "PELICAN") {
					t.Fatalf("translated body: %.400s", up.Body)
				}
				rec := e.usageOf(u)[0]
				checkUsage(t, rec, s, f.model, polydev.UsageOK)
				if rec.Surface != "responses" || !rec.Stream {
					t.Fatalf("record %+v", rec)
				}
			})
		}
	}
}
