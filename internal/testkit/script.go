package testkit

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Script says what a fake upstream answers to one generation request. The
// same script renders into each provider's own wire format, streaming and
// non-streaming, so one scenario can be replayed against all three fakes.
type Script struct {
	// Text is the assistant text to produce.
	Text string
	// Chunks is how many streamed deltas Text is split into (on rune
	// boundaries, as evenly as possible). Zero means one delta per word.
	Chunks int
	// ToolCalls are produced after Text. OpenAI and Anthropic stream the
	// arguments in fragments; Gemini sends each call whole, as it does.
	ToolCalls []ToolCall
	// Usage is reported in each provider's own usage fields (see Usage).
	Usage Usage
	// StopReason is the provider-native stop value (OpenAI finish_reason,
	// Anthropic stop_reason, Gemini finishReason). Empty picks the natural
	// one: stop/end_turn/STOP, or tool_calls/tool_use/STOP with tool calls.
	StopReason string
	// Model, ID override the model name and the response id echoed back.
	// Empty uses the provider's default (the fakes do not echo the request's
	// model: bodies are rendered once, ahead of time).
	Model string
	ID    string

	// Error, when set, makes the request fail with an HTTP error before any
	// streaming starts; the other fields are ignored.
	Error *ErrorReply
	// StreamError sends the provider's in-stream error after a 200 (for
	// Anthropic the documented `event: error`); a non-streaming request gets
	// the equivalent HTTP error instead.
	StreamError *StreamError
	// Malformed writes broken bytes into the response part-way through.
	Malformed *Malformed

	// FirstByteLatency and TokenDelay override the upstream's options for
	// this script when non-zero.
	FirstByteLatency time.Duration
	TokenDelay       time.Duration

	// HoldLast, when set, holds a stream's last content delta (and what follows it) until the
	// channel is closed, so a test can observe a client while the answer is still unfinished.
	HoldLast <-chan struct{}
	// StallAfterDeltas, when positive, makes a stream stop after that many
	// content deltas and send nothing more (no end, no keep-alive) until the
	// client goes away: a drip-fed upstream that hangs mid-answer.
	StallAfterDeltas int
}

// Usage is provider-neutral token accounting. The fakes translate it into
// each provider's fields so that a correct gateway recovers the same numbers
// from all three:
//
//	OpenAI:    prompt_tokens=Prompt, completion_tokens=Completion,
//	           prompt_tokens_details.cached_tokens=Cached,
//	           completion_tokens_details.reasoning_tokens=Reasoning
//	Anthropic: input_tokens=Prompt-Cached-CacheWrite, cache_read_input_tokens=Cached,
//	           cache_creation_input_tokens=CacheWrite, output_tokens=Completion
//	Gemini:    promptTokenCount=Prompt, cachedContentTokenCount=Cached,
//	           candidatesTokenCount=Completion-Reasoning, thoughtsTokenCount=Reasoning,
//	           totalTokenCount=Prompt+Completion
type Usage struct {
	PromptTokens     int // all input tokens, cached ones included
	CompletionTokens int // all output tokens, reasoning included
	CachedTokens     int // input tokens read from the prompt cache (part of PromptTokens)
	CacheWriteTokens int // input tokens written to the cache (Anthropic only; part of PromptTokens)
	ReasoningTokens  int // output tokens spent thinking (part of CompletionTokens)
	// WebSearches is the server-side web searches the answer reports (Anthropic only:
	// usage.server_tool_use.web_search_requests, in the body and the final message_delta).
	WebSearches int
}

// Total is PromptTokens + CompletionTokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// ToolCall is one function call the model makes.
type ToolCall struct {
	ID        string // empty: a provider-style id derived from the call's position
	Name      string
	Arguments string // a JSON object; empty means {}
	// Fragments is how many deltas the arguments stream in (OpenAI and
	// Anthropic). Zero means 4.
	Fragments int
}

// ErrorReply is an HTTP error response.
type ErrorReply struct {
	Status int
	// Type and Message override the provider's canonical error type (OpenAI
	// error.type, Anthropic error.type, Gemini error.status) and message for
	// Status. Ignored when Body is set.
	Type    string
	Message string
	// Body, when set, is sent verbatim instead of the provider's error shape.
	Body []byte
	// Header is added to the response (for example Retry-After).
	Header http.Header
}

// StreamError is an error reported inside a stream that started with 200.
type StreamError struct {
	// AfterDeltas is how many content deltas are sent before the error.
	// A value at or above the script's total sends it after all content.
	AfterDeltas int
	// Type is the provider's error type (Anthropic error.type, OpenAI
	// error.type, Gemini error.status). Empty: overloaded_error,
	// server_error, UNAVAILABLE.
	Type    string
	Message string // empty: the provider's canonical message for Type
	// BeforeContent sends the error right after the stream's opening event, before any content
	// block (Anthropic: message_start then error, as Anthropic reports overload); AfterDeltas is
	// then ignored. Other providers' fakes open no stream before content: there it is AfterDeltas 0.
	BeforeContent bool
}

// Malformed breaks a response part-way through.
type Malformed struct {
	// AfterDeltas is how many content deltas are sent intact first
	// (non-streaming responses are cut in half instead).
	AfterDeltas int
	// Bytes are written verbatim. Empty: a provider-shaped event whose JSON
	// is cut off mid-value.
	Bytes []byte
	// Abort drops the connection after the bytes, without a clean end of
	// the body; otherwise the response ends normally after them.
	Abort bool
}

// DefaultText is the assistant text of DefaultScript.
const DefaultText = "Hello! How can I help you today?"

// DefaultUsage is the usage of DefaultScript and ToolCallScript. Every
// number is non-zero so that a gateway that drops one is caught.
var DefaultUsage = Usage{PromptTokens: 1536, CompletionTokens: 96, CachedTokens: 1024, ReasoningTokens: 64}

// DefaultScript answers DefaultText, one delta per word, with DefaultUsage.
func DefaultScript() Script {
	return Script{Text: DefaultText, Usage: DefaultUsage}
}

// ToolCallScript calls get_weather for Paris, with DefaultUsage.
func ToolCallScript() Script {
	return Script{
		ToolCalls: []ToolCall{{Name: "get_weather", Arguments: `{"location":"Paris, France","unit":"celsius"}`}},
		Usage:     DefaultUsage,
	}
}

// ErrorScript fails with the provider's canonical error for status.
func ErrorScript(status int) Script {
	return Script{Error: &ErrorReply{Status: status}}
}

// textDeltas splits the script's text into its streamed pieces.
func (s Script) textDeltas() []string {
	if s.Text == "" {
		return nil
	}
	if s.Chunks <= 0 {
		return strings.SplitAfter(s.Text, " ")
	}
	return splitRunes(s.Text, s.Chunks)
}

// fragments splits a tool call's arguments into its streamed pieces.
func (c ToolCall) fragments(args string) []string {
	n := c.Fragments
	if n <= 0 {
		n = 4
	}
	return splitRunes(args, n)
}

// splitRunes cuts s into n pieces of nearly equal rune count, never inside
// a rune (so every piece is valid UTF-8 on its own).
func splitRunes(s string, n int) []string {
	runes := utf8.RuneCountInString(s)
	if runes == 0 {
		return nil
	}
	n = min(n, runes)
	out := make([]string, 0, n)
	for i := range n {
		size := runes / n
		if i < runes%n {
			size++
		}
		cut := 0
		for range size {
			_, w := utf8.DecodeRuneInString(s[cut:])
			cut += w
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return out
}

// stopReason returns the script's stop reason or the provider's natural one.
func (s Script) stopReason(text, tool string) string {
	switch {
	case s.StopReason != "":
		return s.StopReason
	case len(s.ToolCalls) > 0:
		return tool
	default:
		return text
	}
}
