package crosstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	inanthropic "github.com/polydev/polydev/gateway/inbound/anthropic"
	inopenai "github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/anthropic"
	"github.com/polydev/polydev/gateway/provider/gemini"
	"github.com/polydev/polydev/gateway/provider/openai"
	"github.com/polydev/polydev/internal/testkit"
)

// upstreams are the three providers with their fakes and the usage each reports for a script.
var upstreams = []struct {
	name  string
	p     provider.Provider
	model string
	new   func(testing.TB, ...testkit.Option) *testkit.Upstream
	usage func(testkit.Usage) llm.Usage
}{
	{"openai", &openai.Provider{}, "gpt-4o-mini", testkit.NewOpenAI, func(u testkit.Usage) llm.Usage {
		return llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CacheReadTokens: u.CachedTokens, ReasoningTokens: u.ReasoningTokens}
	}},
	{"anthropic", &anthropic.Provider{}, "claude-sonnet-4-5", testkit.NewAnthropic, func(u testkit.Usage) llm.Usage {
		return llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CacheReadTokens: u.CachedTokens, CacheWriteTokens: u.CacheWriteTokens}
	}},
	{"gemini", &gemini.Provider{}, "gemini-2.5-flash", testkit.NewGemini, func(u testkit.Usage) llm.Usage {
		return llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CacheReadTokens: u.CachedTokens, ReasoningTokens: u.ReasoningTokens}
	}},
}

var inbounds = []string{"openai", "anthropic"}

// gateway is the minimal stand-in for the router: decode, call the provider with the configured
// target, render. Usage of each finished or abandoned stream is sent on usage.
type gateway struct {
	inbound string
	p       provider.Provider
	target  provider.Target
	client  *http.Client
	model   string
	usage   chan llm.Usage
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var (
		req  *llm.Request
		opts inopenai.Options
		err  error
	)
	writeErr := inopenai.WriteError
	if g.inbound == "anthropic" {
		writeErr = inanthropic.WriteError
		req, err = inanthropic.DecodeRequest(body)
	} else {
		req, opts, err = inopenai.DecodeRequest(body)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	req.Model = g.model // model-name resolution belongs to the router
	// What the router checks before it calls (router.Call.check).
	err = req.Native.Refuse(g.p.Name(), provider.WireFormat(g.p.Name()))
	if ch, ok := g.p.(provider.Checker); ok && err == nil {
		err = ch.Check(req)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	if !req.Stream {
		resp, err := g.p.Do(r.Context(), g.client, g.target, req)
		if err != nil {
			writeErr(w, err)
			return
		}
		if g.inbound == "anthropic" {
			_ = inanthropic.WriteResponse(w, resp)
		} else {
			_ = inopenai.WriteResponse(w, resp)
		}
		return
	}
	s, err := g.p.Stream(r.Context(), g.client, g.target, req)
	if err != nil {
		writeErr(w, err)
		return
	}
	defer s.Close()
	var u llm.Usage
	if g.inbound == "anthropic" {
		u, _ = inanthropic.Relay(w, s)
	} else {
		u, _ = inopenai.Relay(w, s, opts)
	}
	if g.usage != nil {
		g.usage <- u
	}
}

// startGateway serves g on 127.0.0.1.
func startGateway(t *testing.T, g *gateway) *httptest.Server {
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

// clientRequest builds the inbound body: a user question with the weather tool, plus fields that
// try to redirect the upstream call (they must have no effect).
func clientRequest(inbound string, stream bool) []byte {
	var body map[string]any
	tool := map[string]any{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}}
	if inbound == "anthropic" {
		body = map[string]any{
			"model": "any", "max_tokens": 512, "system": "Be brief.",
			"messages": []any{map[string]any{"role": "user", "content": "Weather in Paris?"}},
			"tools":    []any{map[string]any{"name": "get_weather", "description": "weather", "input_schema": tool}},
		}
	} else {
		body = map[string]any{
			"model": "any",
			"messages": []any{
				map[string]any{"role": "system", "content": "Be brief."},
				map[string]any{"role": "user", "content": "Weather in Paris?"},
			},
			"tools": []any{map[string]any{"type": "function", "function": map[string]any{"name": "get_weather", "parameters": tool}}},
		}
		if stream {
			body["stream_options"] = map[string]any{"include_usage": true}
		}
	}
	body["stream"] = stream
	for k, v := range map[string]any{"api_key": "sk-attacker", "base_url": "http://evil.invalid", "baseURL": "http://evil.invalid", "apiKey": "sk-attacker", "x-api-key": "sk-attacker"} {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	return b
}

// result is what a client made of the gateway's answer, in canonical terms.
type result struct {
	status int
	text   string
	calls  []llm.ToolCall
	stop   string // the inbound shape's own stop/finish value
	usage  llm.Usage
	start  llm.Usage // Anthropic streams: the usage in message_start
	errTyp string    // error type in the inbound shape, when the answer was an error
	errMsg string
	raw    []byte
}

func post(t *testing.T, url, inbound string, body []byte) result {
	t.Helper()
	path := "/v1/chat/completions"
	if inbound == "anthropic" {
		path = "/v1/messages"
	}
	// A hang is a failure, not a stuck test run.
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Post(url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	res := result{status: resp.StatusCode, raw: raw}
	stream := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	switch {
	case resp.StatusCode != 200:
		res.parseError(t, inbound, raw)
	case stream && inbound == "anthropic":
		res.parseAnthropicStream(t, raw)
	case stream:
		res.parseOpenAIStream(t, raw)
	case inbound == "anthropic":
		res.parseAnthropicMessage(t, raw)
	default:
		res.parseOpenAICompletion(t, raw)
	}
	return res
}

func strictJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("invalid JSON %v: %s", err, b)
	}
}

func (r *result) parseError(t *testing.T, inbound string, raw []byte) {
	t.Helper()
	if inbound == "anthropic" {
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		strictJSON(t, raw, &e)
		if e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
			t.Errorf("not an Anthropic error: %s", raw)
		}
		r.errTyp, r.errMsg = e.Error.Type, e.Error.Message
		return
	}
	var e struct {
		Error *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	strictJSON(t, raw, &e)
	if e.Error == nil || e.Error.Type == "" || e.Error.Message == "" || e.Error.Code == "" {
		t.Errorf("not an OpenAI error: %s", raw)
		return
	}
	r.errTyp, r.errMsg = e.Error.Type, e.Error.Message
}

type oaUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u oaUsage) canonical(t *testing.T) llm.Usage {
	if u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("total_tokens %d", u.TotalTokens)
	}
	return llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CacheReadTokens: u.PromptTokensDetails.CachedTokens, ReasoningTokens: u.CompletionTokensDetails.ReasoningTokens}
}

type oaToolCall struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func (r *result) parseOpenAICompletion(t *testing.T, raw []byte) {
	var c struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Role      string       `json:"role"`
				Content   *string      `json:"content"`
				ToolCalls []oaToolCall `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage oaUsage `json:"usage"`
	}
	strictJSON(t, raw, &c)
	if c.Object != "chat.completion" || len(c.Choices) != 1 || c.Choices[0].Message.Role != "assistant" {
		t.Fatalf("bad completion %s", raw)
	}
	m := c.Choices[0].Message
	if m.Content != nil {
		r.text = *m.Content
	}
	for _, tc := range m.ToolCalls {
		if tc.Type != "function" || tc.ID == "" {
			t.Errorf("tool call %+v", tc)
		}
		r.calls = append(r.calls, llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: json.RawMessage(tc.Function.Arguments)})
	}
	r.stop, r.usage = c.Choices[0].FinishReason, c.Usage.canonical(t)
}

func (r *result) parseOpenAIStream(t *testing.T, raw []byte) {
	events, err := testkit.ParseSSE(raw)
	if err != nil {
		t.Fatalf("SSE framing: %v\n%s", err, raw)
	}
	args := map[int]*strings.Builder{}
	sawDone := false
	for i, ev := range events {
		if ev.Data == "[DONE]" {
			if i != len(events)-1 {
				t.Error("[DONE] is not last")
			}
			sawDone = true
			continue
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Role      string       `json:"role"`
					Content   *string      `json:"content"`
					ToolCalls []oaToolCall `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *oaUsage `json:"usage"`
			Error *struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		strictJSON(t, []byte(ev.Data), &c)
		if c.Error != nil {
			r.errTyp, r.errMsg = c.Error.Type, c.Error.Message
			if i != len(events)-1 {
				t.Error("events after the error chunk")
			}
			continue
		}
		if c.Object != "chat.completion.chunk" {
			t.Fatalf("chunk %s", ev.Data)
		}
		if i == 0 && (len(c.Choices) == 0 || c.Choices[0].Delta.Role != "assistant") {
			t.Errorf("first chunk has no role: %s", ev.Data)
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				r.text += *ch.Delta.Content
			}
			for _, tc := range ch.Delta.ToolCalls {
				if tc.ID != "" {
					r.calls = append(r.calls, llm.ToolCall{ID: tc.ID, Name: tc.Function.Name})
					args[tc.Index] = &strings.Builder{}
				}
				args[tc.Index].WriteString(tc.Function.Arguments)
			}
			if ch.FinishReason != nil {
				r.stop = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			if len(c.Choices) != 0 {
				t.Error("usage chunk with choices")
			}
			r.usage = c.Usage.canonical(t)
		}
	}
	for i := range r.calls {
		r.calls[i].Arguments = json.RawMessage(args[i].String())
	}
	if !sawDone && r.errTyp == "" {
		t.Error("stream without [DONE]")
	}
}

type anUsage struct {
	InputTokens              *int `json:"input_tokens"`
	OutputTokens             int  `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func (u anUsage) canonical() llm.Usage {
	cr, cw := deref(u.CacheReadInputTokens), deref(u.CacheCreationInputTokens)
	return llm.Usage{InputTokens: deref(u.InputTokens) + cr + cw, OutputTokens: u.OutputTokens, CacheReadTokens: cr, CacheWriteTokens: cw}
}

type anBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

func (r *result) parseAnthropicMessage(t *testing.T, raw []byte) {
	var m struct {
		Type       string    `json:"type"`
		Role       string    `json:"role"`
		Content    []anBlock `json:"content"`
		StopReason string    `json:"stop_reason"`
		Usage      anUsage   `json:"usage"`
	}
	strictJSON(t, raw, &m)
	if m.Type != "message" || m.Role != "assistant" {
		t.Fatalf("bad message %s", raw)
	}
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			r.text += b.Text
		case "tool_use":
			r.calls = append(r.calls, llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: b.Input})
		default:
			t.Errorf("block type %q", b.Type)
		}
	}
	r.stop, r.usage = m.StopReason, m.Usage.canonical()
}

// parseAnthropicStream accumulates the events the way Anthropic's SDKs do, checking the sequence.
func (r *result) parseAnthropicStream(t *testing.T, raw []byte) {
	events, err := testkit.ParseSSE(raw)
	if err != nil {
		t.Fatalf("SSE framing: %v\n%s", err, raw)
	}
	var usage anUsage
	open := -1
	blocks := map[int]*anBlock{}
	args := map[int]*strings.Builder{}
	var order []int
	stopped := false
	for i, ev := range events {
		var e struct {
			Type    string `json:"type"`
			Message struct {
				Usage anUsage `json:"usage"`
			} `json:"message"`
			Index        int      `json:"index"`
			ContentBlock *anBlock `json:"content_block"`
			Delta        struct {
				Type        string `json:"type"`
				Text        string `json:"text"`
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			} `json:"delta"`
			Usage *anUsage `json:"usage"`
			Error *struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		strictJSON(t, []byte(ev.Data), &e)
		if e.Type != ev.Event {
			t.Errorf("event %q carries type %q", ev.Event, e.Type)
		}
		if (i == 0) != (e.Type == "message_start") && e.Type != "error" {
			t.Errorf("event %d is %s", i, e.Type)
		}
		switch e.Type {
		case "message_start":
			usage = e.Message.Usage
			r.start = usage.canonical()
		case "content_block_start":
			if open >= 0 || e.ContentBlock == nil || blocks[e.Index] != nil {
				t.Fatalf("bad content_block_start %s", ev.Data)
			}
			open = e.Index
			blocks[e.Index], args[e.Index] = e.ContentBlock, &strings.Builder{}
			order = append(order, e.Index)
		case "content_block_delta":
			if e.Index != open {
				t.Fatalf("delta for block %d while %d is open", e.Index, open)
			}
			switch e.Delta.Type {
			case "text_delta":
				blocks[e.Index].Text += e.Delta.Text
			case "input_json_delta":
				args[e.Index].WriteString(e.Delta.PartialJSON)
			}
		case "content_block_stop":
			if e.Index != open {
				t.Fatalf("stop for block %d while %d is open", e.Index, open)
			}
			open = -1
		case "message_delta":
			r.stop = e.Delta.StopReason
			if u := e.Usage; u != nil {
				usage.OutputTokens = u.OutputTokens
				if u.InputTokens != nil {
					usage.InputTokens = u.InputTokens
				}
				if u.CacheReadInputTokens != nil {
					usage.CacheReadInputTokens = u.CacheReadInputTokens
				}
				if u.CacheCreationInputTokens != nil {
					usage.CacheCreationInputTokens = u.CacheCreationInputTokens
				}
			}
		case "message_stop":
			stopped = true
			if open >= 0 || i != len(events)-1 {
				t.Error("message_stop with an open block or not last")
			}
		case "error":
			r.errTyp, r.errMsg = e.Error.Type, e.Error.Message
		default:
			t.Errorf("unexpected event %q", e.Type)
		}
	}
	for _, idx := range order {
		b := blocks[idx]
		switch b.Type {
		case "text":
			r.text += b.Text
		case "tool_use":
			r.calls = append(r.calls, llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: json.RawMessage(args[idx].String())})
		}
	}
	r.usage = usage.canonical()
	if !stopped && r.errTyp == "" {
		t.Error("stream without message_stop")
	}
}

// inboundUsage is what an inbound shape can express of a canonical usage.
func inboundUsage(inbound string, u llm.Usage) llm.Usage {
	if inbound == "anthropic" {
		return llm.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens}
	}
	return llm.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadTokens: u.CacheReadTokens, ReasoningTokens: u.ReasoningTokens}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
