package testkit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/ from the fakes' output (review the diff!)")

type goldenCase struct {
	file   string
	new    func(testing.TB, ...Option) *Upstream
	opts   []Option
	call   call
	status int
}

// goldenCases pairs every recorded payload with the request that makes a
// fake produce it.
func goldenCases() []goldenCase {
	toolUse := ToolCallScript()
	streamErr := DefaultScript()
	streamErr.StreamError = &StreamError{AfterDeltas: 3}
	search := DefaultScript()
	search.Usage.WebSearches = 2
	startErr := DefaultScript()
	startErr.StreamError = &StreamError{BeforeContent: true}
	return []goldenCase{
		{"openai/chat_text.json", NewOpenAI, nil, generation(OpenAI, false), 200},
		{"openai/chat_stream_text.sse", NewOpenAI, nil, generation(OpenAI, true), 200},
		{"openai/chat_stream_text_no_usage.sse", NewOpenAI, nil, call{path: "/v1/chat/completions", body: openaiStreamNoUse}, 200},
		{"openai/chat_tool_call.json", NewOpenAI, []Option{WithScript(toolUse)}, generation(OpenAI, false), 200},
		{"openai/chat_stream_tool_call.sse", NewOpenAI, []Option{WithScript(toolUse)}, generation(OpenAI, true), 200},
		{"openai/chat_stream_error.sse", NewOpenAI, []Option{WithScript(streamErr)}, generation(OpenAI, true), 200},
		{"openai/responses_text.json", NewOpenAI, nil, call{path: "/v1/responses", body: responsesBody}, 200},
		{"openai/responses_stream_text.sse", NewOpenAI, nil, call{path: "/v1/responses", body: responsesStream}, 200},
		{"openai/responses_function_call.json", NewOpenAI, []Option{WithScript(toolUse)}, call{path: "/v1/responses", body: responsesBody}, 200},
		{"openai/responses_stream_function_call.sse", NewOpenAI, []Option{WithScript(toolUse)}, call{path: "/v1/responses", body: responsesStream}, 200},
		{"openai/responses_stream_failed.sse", NewOpenAI, []Option{WithScript(streamErr)}, call{path: "/v1/responses", body: responsesStream}, 200},
		{"openai/responses_error_400_no_input.json", NewOpenAI, nil, call{path: "/v1/responses", body: `{"model":"gpt-4o-mini"}`}, 400},
		{"openai/models.json", NewOpenAI, nil, call{method: "GET", path: "/v1/models"}, 200},
		{"openai/error_401.json", NewOpenAI, nil, call{path: "/v1/chat/completions", body: openaiBody, key: keyOf("sk-wrong")}, 401},
		{"openai/error_401_missing_key.json", NewOpenAI, nil, call{path: "/v1/chat/completions", body: openaiBody, key: keyOf("")}, 401},
		{"openai/error_429.json", NewOpenAI, []Option{WithScript(ErrorScript(429))}, generation(OpenAI, false), 429},
		{"openai/error_500.json", NewOpenAI, []Option{WithScript(ErrorScript(500))}, generation(OpenAI, true), 500},

		{"anthropic/messages_text.json", NewAnthropic, nil, generation(Anthropic, false), 200},
		{"anthropic/messages_stream_text.sse", NewAnthropic, nil, generation(Anthropic, true), 200},
		{"anthropic/messages_tool_use.json", NewAnthropic, []Option{WithScript(toolUse)}, generation(Anthropic, false), 200},
		{"anthropic/messages_stream_tool_use.sse", NewAnthropic, []Option{WithScript(toolUse)}, generation(Anthropic, true), 200},
		{"anthropic/messages_stream_overloaded.sse", NewAnthropic, []Option{WithScript(streamErr)}, generation(Anthropic, true), 200},
		{"anthropic/messages_stream_overloaded_before_content.sse", NewAnthropic, []Option{WithScript(startErr)}, generation(Anthropic, true), 200},
		{"anthropic/messages_web_search.json", NewAnthropic, []Option{WithScript(search)}, generation(Anthropic, false), 200},
		{"anthropic/messages_stream_web_search.sse", NewAnthropic, []Option{WithScript(search)}, generation(Anthropic, true), 200},
		{"anthropic/models.json", NewAnthropic, nil, call{method: "GET", path: "/v1/models"}, 200},
		{"anthropic/error_400_missing_version.json", NewAnthropic, nil, call{path: "/v1/messages", body: anthropicBody, header: map[string]string{"Anthropic-Version": ""}}, 400},
		{"anthropic/error_401.json", NewAnthropic, nil, call{path: "/v1/messages", body: anthropicBody, key: keyOf("sk-ant-wrong")}, 401},
		{"anthropic/error_429.json", NewAnthropic, []Option{WithScript(ErrorScript(429))}, generation(Anthropic, false), 429},
		{"anthropic/error_500.json", NewAnthropic, []Option{WithScript(ErrorScript(500))}, generation(Anthropic, false), 500},
		{"anthropic/error_529.json", NewAnthropic, []Option{WithScript(ErrorScript(529))}, generation(Anthropic, true), 529},

		{"gemini/generate_text.json", NewGemini, nil, generation(Gemini, false), 200},
		{"gemini/stream_text.sse", NewGemini, nil, generation(Gemini, true), 200},
		{"gemini/stream_text_array.json", NewGemini, nil, call{path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", body: geminiBody}, 200},
		{"gemini/generate_function_call.json", NewGemini, []Option{WithScript(toolUse)}, generation(Gemini, false), 200},
		{"gemini/stream_function_call.sse", NewGemini, []Option{WithScript(toolUse)}, generation(Gemini, true), 200},
		{"gemini/stream_error.sse", NewGemini, []Option{WithScript(streamErr)}, generation(Gemini, true), 200},
		{"gemini/models.json", NewGemini, nil, call{method: "GET", path: "/v1beta/models"}, 200},
		{"gemini/count_tokens.json", NewGemini, nil, call{path: "/v1beta/models/gemini-2.5-flash:countTokens", body: geminiBody}, 200},
		{"gemini/count_tokens_error_429.json", NewGemini, []Option{WithScript(ErrorScript(429))}, call{path: "/v1beta/models/gemini-2.5-flash:countTokens", body: geminiBody}, 429},
		{"gemini/error_400_api_key.json", NewGemini, nil, call{path: geminiGeneratePath, body: geminiBody, key: keyOf("AIzaWrong")}, 400},
		{"gemini/error_403_missing_key.json", NewGemini, nil, call{path: geminiGeneratePath, body: geminiBody, key: keyOf("")}, 403},
		{"gemini/error_429.json", NewGemini, []Option{WithScript(ErrorScript(429))}, generation(Gemini, false), 429},
		{"gemini/error_500.json", NewGemini, []Option{WithScript(ErrorScript(500))}, generation(Gemini, false), 500},
		{"gemini/error_503.json", NewGemini, []Option{WithScript(ErrorScript(503))}, generation(Gemini, true), 503},
	}
}

// TestGolden checks that the fakes produce exactly the recorded payloads.
// The files are the reference: they were checked field by field against
// the providers' documentation, and other packages' parser tests read them.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases() {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			u := tc.new(t, tc.opts...)
			status, _, got := tc.call.do(t, u)
			if status != tc.status {
				t.Errorf("status = %d, want %d", status, tc.status)
			}
			path := filepath.Join("testdata", filepath.FromSlash(tc.file))
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to record)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s\n got: %q\nwant: %q", path, got, want)
			}
			if !bytes.Equal(Payload(tc.file), want) {
				t.Errorf("Payload(%q) differs from the file on disk; rebuild", tc.file)
			}
		})
	}
}

// TestPayloadNames checks every recorded file is covered by TestGolden's
// listing (so no fixture silently drifts from the fakes).
func TestPayloadNames(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, tc := range goldenCases() {
		covered[tc.file] = true
	}
	n := 0
	for _, p := range []Provider{OpenAI, Anthropic, Gemini} {
		for _, name := range PayloadNames(p) {
			n++
			if !covered[name] {
				t.Errorf("%s is not checked by TestGolden", name)
			}
		}
	}
	if n != len(covered) {
		t.Errorf("%d payloads embedded, %d golden cases", n, len(covered))
	}
}
