package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
)

// TestDecodeResponse: the reflection-free reader of a chat.completion takes what encoding/json
// took (null as absent, only the first choice, content as a string or text parts) and refuses
// what is not a response.
func TestDecodeResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       *llm.Response // nil: malformed
	}{
		{"text and usage", `{"id":"c1","object":"chat.completion","model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"you\"\n\u00e9","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2,"audio_tokens":0}},"system_fingerprint":"fp"}`,
			&llm.Response{ID: "c1", Model: "gpt-x", StopReason: llm.StopEndTurn, Content: []llm.Part{llm.TextPart("Hi \"you\"\né")},
				Usage: llm.Usage{InputTokens: 11, OutputTokens: 7, CacheReadTokens: 3, ReasoningTokens: 2}}},
		{"tool calls, null content, null details", `{"id":null,"model":"m","choices":[{"message":{"content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},{"function":{"name":"g","arguments":""}}]},"finish_reason":"tool_calls"},{"message":{"content":"second choice"}}],
			"usage":{"prompt_tokens":5,"completion_tokens":null,"prompt_tokens_details":null}}`,
			&llm.Response{Model: "m", StopReason: llm.StopToolUse, Content: []llm.Part{
				{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_a", Name: "f", Arguments: json.RawMessage(`{"x":1}`)}},
				{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "g", Arguments: json.RawMessage(`{}`)}}},
				Usage: llm.Usage{InputTokens: 5}}},
		{"text parts and a refusal", `{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"image","url":"x"},{"type":"text","text":"b"}],"refusal":"no"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`,
			&llm.Response{StopReason: llm.StopContentFilter, Content: []llm.Part{llm.TextPart("abno")}, Usage: llm.Usage{InputTokens: 1, OutputTokens: 1}}},
		{"no choices", `{"id":"x","choices":[]}`, nil},
		{"null choices", `{"id":"x","choices":null}`, nil},
		{"not an object", `[1]`, nil},
		{"trailing bytes", `{"choices":[{"message":{"content":"a"}}]} x`, nil},
		{"arguments not a string", `{"choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":{}}}]}}]}`, nil},
		{"tokens not an integer", `{"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":"5"}}`, nil},
		{"content a number", `{"choices":[{"message":{"content":5}}]}`, nil},
		{"truncated", `{"choices":[{"message":{"content":"a`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeResponse([]byte(tt.body), 100)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				if e, ok := err.(*llm.Error); !ok || e.Kind != llm.ErrMalformed {
					t.Fatalf("error %v (%T), want the malformed-response error", err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzDecodeResponse: any body decodes or is refused as malformed, never a panic.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"id":"c","model":"m","choices":[{"message":{"content":"a","tool_calls":[{"id":"x","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens_details":{"reasoning_tokens":1}}}`))
	f.Add([]byte(`{"choices":[{"message":{"content":[{"type":"text","text":"\ud800"}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := decodeResponse(b, 10)
		if err == nil && resp == nil {
			t.Fatal("no response and no error")
		}
	})
}

// BenchmarkDecodeResponse decodes the answer the bench's fake upstream gives (OpenAI's layout,
// indented as OpenAI sends it).
func BenchmarkDecodeResponse(b *testing.B) {
	body := []byte(`{
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "gpt-4o-mini-2024-07-18",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": "Hello! How can I assist you today? Let me know what you need.",
        "refusal": null,
        "annotations": []
      },
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {
      "cached_tokens": 0,
      "audio_tokens": 0
    },
    "completion_tokens_details": {
      "reasoning_tokens": 0,
      "audio_tokens": 0,
      "accepted_prediction_tokens": 0,
      "rejected_prediction_tokens": 0
    }
  },
  "service_tier": "default",
  "system_fingerprint": "fp_06737a9306"
}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeResponse(body, 100); err != nil {
			b.Fatal(err)
		}
	}
}
