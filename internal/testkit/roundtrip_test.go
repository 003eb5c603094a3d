package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// naturalStop is the stop reason each provider reports by default.
func naturalStop(p Provider, tools bool) string {
	switch {
	case p == OpenAI && tools:
		return "tool_calls"
	case p == OpenAI:
		return "stop"
	case p == Anthropic && tools:
		return "tool_use"
	case p == Anthropic:
		return "end_turn"
	}
	return "STOP"
}

// TestScriptsRoundTrip renders scripts through every fake, streaming and
// not, decodes the output like a client and checks that text, tool calls,
// usage and stop reason come back as scripted.
func TestScriptsRoundTrip(t *testing.T) {
	t.Parallel()
	scripts := map[string]Script{
		"default": DefaultScript(),
		"unicode in chunks": {
			Text: "Grüße, 世界! 🌍 fin", Chunks: 5,
			Usage: Usage{PromptTokens: 10, CompletionTokens: 7},
		},
		"tool call": ToolCallScript(),
		"text then two calls": {
			Text: "Let me check both.",
			ToolCalls: []ToolCall{
				{Name: "get_weather", Arguments: `{"location": "Paris"}`, Fragments: 3},
				{ID: "custom_id", Name: "get_time", Arguments: `{"tz":"Europe/Paris","note":"<&>"}`, Fragments: 7},
			},
			Usage: Usage{PromptTokens: 900, CompletionTokens: 40, CachedTokens: 512, CacheWriteTokens: 128, ReasoningTokens: 8},
		},
		"empty": {Usage: Usage{PromptTokens: 3}},
	}
	for _, c := range constructors {
		for name, s := range scripts {
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/stream=%v", c.p, name, stream), func(t *testing.T) {
					t.Parallel()
					u := c.new(t, WithScript(s))
					status, hdr, body := generation(c.p, stream).do(t, u)
					if status != http.StatusOK {
						t.Fatalf("status %d: %s", status, body)
					}
					var d decoded
					if stream {
						if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
							t.Errorf("Content-Type = %q", ct)
						}
						d = decodeStream(t, c.p, body)
					} else {
						d = decodeBody(t, c.p, body)
					}
					checkDecoded(t, c.p, s, d, stream)
				})
			}
		}
	}
}

func checkDecoded(t *testing.T, p Provider, s Script, d decoded, stream bool) {
	t.Helper()
	if d.Text != s.Text {
		t.Errorf("text = %q, want %q", d.Text, s.Text)
	}
	if len(d.Calls) != len(s.ToolCalls) {
		t.Fatalf("%d tool calls, want %d", len(d.Calls), len(s.ToolCalls))
	}
	wantDeltas := len(s.textDeltas())
	for i, want := range s.ToolCalls {
		got := d.Calls[i]
		if got.Name != want.Name {
			t.Errorf("call %d name = %q, want %q", i, got.Name, want.Name)
		}
		if want.ID != "" && p != Gemini && got.ID != want.ID {
			t.Errorf("call %d id = %q, want %q", i, got.ID, want.ID)
		}
		if p != Gemini && got.ID == "" {
			t.Errorf("call %d has no id", i)
		}
		if !jsonEqual(t, got.Args, want.Arguments) {
			t.Errorf("call %d arguments = %s, want %s", i, got.Args, want.Arguments)
		}
		if p == Gemini {
			wantDeltas++
		} else {
			args, _ := compactArgs(want.Arguments)
			wantDeltas += len(want.fragments(string(args)))
		}
	}
	if !d.Complete {
		t.Error("no end-of-response marker")
	}
	if want := naturalStop(p, len(s.ToolCalls) > 0); d.Stop != want {
		t.Errorf("stop = %q, want %q", d.Stop, want)
	}
	if !d.HasUsage {
		t.Error("no usage reported")
	} else if want := reported(p, s.Usage); d.Usage != want {
		t.Errorf("usage = %+v, want %+v", d.Usage, want)
	}
	if stream && d.Deltas != wantDeltas {
		t.Errorf("%d content deltas, want %d", d.Deltas, wantDeltas)
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Errorf("invalid JSON %q: %v", a, err)
		return false
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

func TestOpenAIUsageChunkOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	u := NewOpenAI(t)
	_, _, body := call{path: "/v1/chat/completions", body: openaiStreamNoUse}.do(t, u)
	if bytes.Contains(body, []byte(`"usage"`)) {
		t.Errorf("usage sent without stream_options.include_usage:\n%s", body)
	}
	d := decodeStream(t, OpenAI, body)
	if d.HasUsage || d.Text != DefaultText || !d.Complete {
		t.Errorf("decoded %+v", d)
	}
}

func TestCustomStopReasonAndModel(t *testing.T) {
	t.Parallel()
	stops := map[Provider]string{OpenAI: "length", Anthropic: "max_tokens", Gemini: "MAX_TOKENS"}
	for _, c := range constructors {
		u := c.new(t, WithScript(Script{Text: "cut", StopReason: stops[c.p], Model: "m-test"}))
		for _, stream := range []bool{false, true} {
			_, _, body := generation(c.p, stream).do(t, u)
			var d decoded
			if stream {
				d = decodeStream(t, c.p, body)
			} else {
				d = decodeBody(t, c.p, body)
			}
			if d.Stop != stops[c.p] {
				t.Errorf("%s stream=%v: stop = %q", c.p, stream, d.Stop)
			}
			if !bytes.Contains(body, []byte(`"m-test"`)) {
				t.Errorf("%s stream=%v: model not echoed", c.p, stream)
			}
		}
	}
}

func TestTokenDelayOverride(t *testing.T) {
	t.Parallel()
	// A script's own delay wins over the option: with the option at an hour,
	// only the override lets this finish.
	u := NewOpenAI(t, WithTokenDelay(time.Hour), WithScript(Script{Text: "a b", TokenDelay: time.Nanosecond, Usage: DefaultUsage}))
	if d := decodeStream(t, OpenAI, mustBody(t, u, generation(OpenAI, true))); d.Text != "a b" {
		t.Errorf("text %q", d.Text)
	}
}

func mustBody(t *testing.T, u *Upstream, c call) []byte {
	t.Helper()
	status, _, body := c.do(t, u)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	return body
}
