package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// These decoders read the fakes' output the way a careful client would,
// independently of how the fakes render it, and normalise it back into a
// Script's terms so tests can check that text, tool calls and usage add up.

type decoded struct {
	Text     string
	Calls    []decodedCall
	Stop     string
	Usage    Usage
	HasUsage bool
	Complete bool   // the format's end marker was seen ([DONE], message_stop, finishReason)
	ErrType  string // an in-stream error's type
	Deltas   int    // content deltas (text pieces, argument fragments, whole calls)
}

type decodedCall struct {
	ID, Name, Args string
}

func decodeStream(t *testing.T, p Provider, body []byte) decoded {
	t.Helper()
	events, err := ParseSSE(body)
	if err != nil {
		t.Fatalf("stream is not valid SSE: %v\n%s", err, body)
	}
	var d decoded
	var derr error
	switch p {
	case OpenAI:
		derr = d.openaiStream(events)
	case Anthropic:
		derr = d.anthropicStream(events)
	case Gemini:
		derr = d.geminiStream(events)
	}
	if derr != nil {
		t.Fatalf("%s stream: %v\n%s", p, derr, body)
	}
	return d
}

func decodeBody(t *testing.T, p Provider, body []byte) decoded {
	t.Helper()
	var d decoded
	var err error
	switch p {
	case OpenAI:
		err = d.openaiBody(body)
	case Anthropic:
		err = d.anthropicBody(body)
	case Gemini:
		var r geminiResponseJSON
		if err = strictJSON(body, &r); err == nil {
			err = d.geminiChunk(r, false)
		}
	}
	if err != nil {
		t.Fatalf("%s body: %v\n%s", p, err, body)
	}
	return d
}

func strictJSON(b []byte, v any) error {
	if !json.Valid(b) {
		return fmt.Errorf("invalid JSON: %q", b)
	}
	return json.Unmarshal(b, v)
}

// --- OpenAI

type openaiUsageJSON struct {
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

func (u openaiUsageJSON) usage() (Usage, error) {
	if u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		return Usage{}, fmt.Errorf("total_tokens %d != %d + %d", u.TotalTokens, u.PromptTokens, u.CompletionTokens)
	}
	return Usage{
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		CachedTokens: u.PromptTokensDetails.CachedTokens, ReasoningTokens: u.CompletionTokensDetails.ReasoningTokens,
	}, nil
}

type openaiToolCallJSON struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func (d *decoded) openaiStream(events []Event) error {
	for i, ev := range events {
		if d.Complete {
			return fmt.Errorf("event after [DONE]: %q", ev.Data)
		}
		if ev.Data == "[DONE]" {
			d.Complete = true
			continue
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Role      string               `json:"role"`
					Content   *string              `json:"content"`
					ToolCalls []openaiToolCallJSON `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *openaiUsageJSON `json:"usage"`
			Error *struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		if err := strictJSON([]byte(ev.Data), &c); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if c.Error != nil {
			d.ErrType = c.Error.Type
			continue
		}
		if c.Object != "chat.completion.chunk" {
			return fmt.Errorf("event %d: object %q", i, c.Object)
		}
		if c.Usage != nil {
			if len(c.Choices) != 0 {
				return fmt.Errorf("usage chunk with %d choices", len(c.Choices))
			}
			u, err := c.Usage.usage()
			if err != nil {
				return err
			}
			d.Usage, d.HasUsage = u, true
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil && *ch.Delta.Content != "" {
				d.Text += *ch.Delta.Content
				d.Deltas++
			}
			for _, tc := range ch.Delta.ToolCalls {
				for len(d.Calls) <= tc.Index {
					d.Calls = append(d.Calls, decodedCall{})
				}
				call := &d.Calls[tc.Index]
				if tc.ID != "" {
					call.ID, call.Name = tc.ID, tc.Function.Name
				}
				if tc.Function.Arguments != "" {
					call.Args += tc.Function.Arguments
					d.Deltas++
				}
			}
			if ch.FinishReason != nil {
				d.Stop = *ch.FinishReason
			}
		}
	}
	return nil
}

func (d *decoded) openaiBody(body []byte) error {
	var r struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Content   *string              `json:"content"`
				ToolCalls []openaiToolCallJSON `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage openaiUsageJSON `json:"usage"`
	}
	if err := strictJSON(body, &r); err != nil {
		return err
	}
	if r.Object != "chat.completion" || len(r.Choices) != 1 {
		return fmt.Errorf("object %q with %d choices", r.Object, len(r.Choices))
	}
	ch := r.Choices[0]
	if ch.Message.Content != nil {
		d.Text = *ch.Message.Content
	}
	for _, tc := range ch.Message.ToolCalls {
		d.Calls = append(d.Calls, decodedCall{ID: tc.ID, Name: tc.Function.Name, Args: tc.Function.Arguments})
	}
	d.Stop, d.Complete, d.HasUsage = ch.FinishReason, true, true
	var err error
	d.Usage, err = r.Usage.usage()
	return err
}

// --- Anthropic

type anthropicUsageJSON struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

func (u anthropicUsageJSON) input() Usage {
	return Usage{
		PromptTokens: u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens,
		CachedTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens,
	}
}

type anthropicBlockJSON struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

func (d *decoded) anthropicStream(events []Event) error {
	blocks := map[int]*decodedCall{}
	var started, stopped bool
	for i, ev := range events {
		if stopped {
			return fmt.Errorf("event after message_stop: %q", ev.Event)
		}
		var e struct {
			Type    string `json:"type"`
			Index   int    `json:"index"`
			Message struct {
				Usage anthropicUsageJSON `json:"usage"`
			} `json:"message"`
			ContentBlock anthropicBlockJSON `json:"content_block"`
			Delta        struct {
				Type        string `json:"type"`
				Text        string `json:"text"`
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			} `json:"delta"`
			Usage anthropicUsageJSON `json:"usage"`
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		if err := strictJSON([]byte(ev.Data), &e); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if e.Type != ev.Event {
			return fmt.Errorf("event %d: name %q but type %q", i, ev.Event, e.Type)
		}
		if !started && e.Type != "message_start" {
			return fmt.Errorf("stream starts with %q", e.Type)
		}
		switch e.Type {
		case "message_start":
			started = true
			d.Usage, d.HasUsage = e.Message.Usage.input(), true
		case "content_block_start":
			if e.ContentBlock.Type == "tool_use" {
				d.Calls = append(d.Calls, decodedCall{ID: e.ContentBlock.ID, Name: e.ContentBlock.Name})
				blocks[e.Index] = &d.Calls[len(d.Calls)-1]
			}
		case "content_block_delta":
			switch e.Delta.Type {
			case "text_delta":
				d.Text += e.Delta.Text
				d.Deltas++
			case "input_json_delta":
				call, ok := blocks[e.Index]
				if !ok {
					return fmt.Errorf("input_json_delta for block %d, not a tool_use", e.Index)
				}
				if e.Delta.PartialJSON != "" {
					call.Args += e.Delta.PartialJSON
					d.Deltas++
				}
			default:
				return fmt.Errorf("unknown delta type %q", e.Delta.Type)
			}
		case "message_delta":
			d.Stop = e.Delta.StopReason
			d.Usage.CompletionTokens = e.Usage.OutputTokens // cumulative, not a sum
		case "message_stop":
			stopped, d.Complete = true, true
		case "error":
			d.ErrType = e.Error.Type
		case "ping", "content_block_stop":
		default:
			return fmt.Errorf("unknown event %q", e.Type)
		}
	}
	return nil
}

func (d *decoded) anthropicBody(body []byte) error {
	var m struct {
		Type       string               `json:"type"`
		Content    []anthropicBlockJSON `json:"content"`
		StopReason string               `json:"stop_reason"`
		Usage      anthropicUsageJSON   `json:"usage"`
	}
	if err := strictJSON(body, &m); err != nil {
		return err
	}
	if m.Type != "message" {
		return fmt.Errorf("type %q", m.Type)
	}
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			d.Text += b.Text
		case "tool_use":
			d.Calls = append(d.Calls, decodedCall{ID: b.ID, Name: b.Name, Args: string(b.Input)})
		}
	}
	d.Stop, d.Complete, d.HasUsage = m.StopReason, true, true
	d.Usage = m.Usage.input()
	d.Usage.CompletionTokens = m.Usage.OutputTokens
	return nil
}

// --- Gemini

type geminiResponseJSON struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text         *string `json:"text"`
				FunctionCall *struct {
					Name string          `json:"name"`
					Args json.RawMessage `json:"args"`
				} `json:"functionCall"`
			} `json:"parts"`
			Role string `json:"role"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	UsageMetadata *struct {
		PromptTokenCount        int `json:"promptTokenCount"`
		CandidatesTokenCount    int `json:"candidatesTokenCount"`
		TotalTokenCount         int `json:"totalTokenCount"`
		CachedContentTokenCount int `json:"cachedContentTokenCount"`
		ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
	} `json:"usageMetadata"`
	Error *struct {
		Code   int    `json:"code"`
		Status string `json:"status"`
	} `json:"error"`
}

func (d *decoded) geminiChunk(r geminiResponseJSON, counting bool) error {
	if r.Error != nil {
		d.ErrType = r.Error.Status
		return nil
	}
	if len(r.Candidates) != 1 {
		return fmt.Errorf("%d candidates", len(r.Candidates))
	}
	c := r.Candidates[0]
	if c.Content.Role != "model" {
		return fmt.Errorf("role %q", c.Content.Role)
	}
	for _, p := range c.Content.Parts {
		switch {
		case p.Text != nil:
			d.Text += *p.Text
			if counting && *p.Text != "" {
				d.Deltas++
			}
		case p.FunctionCall != nil:
			var args bytes.Buffer
			if err := json.Compact(&args, p.FunctionCall.Args); err != nil {
				return err
			}
			d.Calls = append(d.Calls, decodedCall{Name: p.FunctionCall.Name, Args: args.String()})
			if counting {
				d.Deltas++
			}
		}
	}
	if c.FinishReason != "" {
		d.Stop, d.Complete = c.FinishReason, true
	}
	if m := r.UsageMetadata; m != nil {
		if m.TotalTokenCount != m.PromptTokenCount+m.CandidatesTokenCount+m.ThoughtsTokenCount {
			return fmt.Errorf("totalTokenCount %d != %d + %d + %d", m.TotalTokenCount, m.PromptTokenCount, m.CandidatesTokenCount, m.ThoughtsTokenCount)
		}
		// The last usageMetadata is the whole response's.
		d.Usage = Usage{
			PromptTokens: m.PromptTokenCount, CompletionTokens: m.CandidatesTokenCount + m.ThoughtsTokenCount,
			CachedTokens: m.CachedContentTokenCount, ReasoningTokens: m.ThoughtsTokenCount,
		}
		d.HasUsage = true
	}
	return nil
}

func (d *decoded) geminiStream(events []Event) error {
	for i, ev := range events {
		if d.Complete {
			return fmt.Errorf("event after finishReason: %q", ev.Data)
		}
		var r geminiResponseJSON
		if err := strictJSON([]byte(ev.Data), &r); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if err := d.geminiChunk(r, true); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	return nil
}

// reported is what a provider can express of a Usage: Anthropic reports no
// reasoning split, OpenAI and Gemini no cache writes.
func reported(p Provider, u Usage) Usage {
	switch p {
	case Anthropic:
		u.ReasoningTokens = 0
	default:
		u.CacheWriteTokens = 0
	}
	return u
}
