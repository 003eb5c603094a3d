package llm

import "encoding/json"

// Role is who speaks a message.
type Role string

// The roles of a conversation. System text is not a message: it is Request.System.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	// RoleTool messages carry only PartToolResult parts: the results of the assistant's tool calls
	// in the previous message. (Anthropic sends them inside a user turn, Gemini as a user turn of
	// functionResponse parts, OpenAI as one "tool" message per result.)
	RoleTool Role = "tool"
)

// PartKind says which fields of a Part are meaningful.
type PartKind uint8

// The kinds of message content.
const (
	PartText       PartKind = iota + 1 // Text
	PartImage                          // Image
	PartToolCall                       // ToolCall (assistant messages only)
	PartToolResult                     // ToolResult (tool messages only)
	PartDocument                       // Document (user messages only)
)

func (k PartKind) String() string {
	switch k {
	case PartText:
		return "text"
	case PartImage:
		return "image"
	case PartToolCall:
		return "tool_call"
	case PartToolResult:
		return "tool_result"
	case PartDocument:
		return "document"
	}
	return "unknown"
}

// Part is one piece of message content. Exactly the field named by Kind is set.
type Part struct {
	Kind       PartKind
	Text       string
	Image      *Image
	ToolCall   *ToolCall
	ToolResult *ToolResult
	Document   *Document
}

// TextPart returns a text part.
func TextPart(s string) Part { return Part{Kind: PartText, Text: s} }

// Image is an image given by URL or inline. Exactly one of URL and Data is set.
type Image struct {
	// URL is an http(s) URL the provider fetches itself. Gemini accepts only URLs it can read
	// (see gateway/README.md).
	URL string
	// MediaType is the image's MIME type ("image/png"); required with Data, optional with URL.
	MediaType string
	// Data is the image, base64-encoded with the standard alphabet, without a "data:" prefix. It
	// is kept encoded because every provider wants it encoded.
	Data string
}

// Document is a file the model reads, given inline: a PDF (text documents are text parts).
type Document struct {
	MediaType string // "application/pdf"
	// Data is the file, base64-encoded with the standard alphabet, without a "data:" prefix.
	Data string
	// Name is the file name for providers that want one (OpenAI); empty means "document.pdf".
	Name string
}

// ToolCall is a function call the assistant made.
type ToolCall struct {
	// ID identifies the call so that its result can refer to it. Gemini returns no ids; its adapter
	// makes them up.
	ID   string
	Name string
	// Arguments is the call's arguments as JSON text, normally an object ("{}" when none). Text
	// the model produced may be invalid JSON (OpenAI streams it verbatim): renderers that need an
	// object substitute {} for anything else.
	Arguments json.RawMessage
}

// ToolResult is the result of a tool call, sent back by the client.
type ToolResult struct {
	// CallID is the ToolCall.ID the result answers.
	CallID string
	// Name is the called function's name when the inbound format carries it; adapters that need
	// it (Gemini) otherwise look it up among the earlier assistant tool calls.
	Name string
	// Content holds PartText and PartImage parts. OpenAI and Gemini upstreams receive the text only.
	Content []Part
	// IsError marks a failed tool run (Anthropic is_error; Gemini {"error": ...}; OpenAI has no
	// such flag and receives the text alone).
	IsError bool
}

// Text returns the text parts of the result joined with newlines.
func (r *ToolResult) Text() string { return JoinText(r.Content, "\n") }

// Message is one turn of the conversation.
type Message struct {
	Role    Role
	Content []Part
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments (an object schema). Empty means
	// {"type":"object","properties":{}}.
	Parameters json.RawMessage
}

// ToolChoiceMode says whether and how the model must call tools.
type ToolChoiceMode string

// Tool choice modes. The zero value leaves the provider's default (auto when tools are given).
const (
	ToolChoiceDefault  ToolChoiceMode = ""
	ToolChoiceAuto     ToolChoiceMode = "auto"     // the model decides
	ToolChoiceNone     ToolChoiceMode = "none"     // no tool calls
	ToolChoiceRequired ToolChoiceMode = "required" // at least one call (OpenAI required, Anthropic any, Gemini ANY)
	ToolChoiceTool     ToolChoiceMode = "tool"     // call the tool named in ToolChoice.Name
)

// ToolChoice constrains tool use.
type ToolChoice struct {
	Mode ToolChoiceMode
	Name string // for ToolChoiceTool
	// DisableParallel asks for at most one tool call (OpenAI parallel_tool_calls=false, Anthropic
	// disable_parallel_tool_use). Gemini has no such switch and ignores it.
	DisableParallel bool
}

// Request is a provider-neutral generation request. Nothing in it names an upstream URL or a
// credential: those come from configuration only (see provider.Target).
type Request struct {
	// Model is the upstream model id, without the gateway's "provider/" prefix.
	Model string
	// System is the system prompt ("" for none). Inbound system messages anywhere in the
	// conversation are joined into it, in order, separated by a blank line.
	System   string
	Messages []Message
	Tools    []Tool
	// ToolChoice applies only when Tools is non-empty.
	ToolChoice ToolChoice
	// MaxTokens caps output tokens; 0 leaves it to the adapter (Anthropic requires a value and
	// gets anthropic.DefaultMaxTokens).
	MaxTokens   int
	Temperature *float64
	TopP        *float64
	// Stop holds stop sequences.
	Stop []string
	// Stream asks for a streamed response. Adapters' Do and Stream methods decide the wire mode by
	// which one is called; this flag records what the client asked for.
	Stream bool
	// User is an opaque end-user id for the provider's abuse monitoring (OpenAI user, Anthropic
	// metadata.user_id; Gemini has none).
	User string
	// ResponseFormat asks for JSON output instead of free text (nil: text). See options.go.
	ResponseFormat *ResponseFormat
	// Reasoning sets how much the model thinks before it answers (nil: the model's default).
	Reasoning *Reasoning
	// Seed asks for repeatable sampling (OpenAI seed, Gemini generationConfig.seed).
	Seed *int64
	// FrequencyPenalty and PresencePenalty are OpenAI's -2..2 penalties (Gemini has both).
	FrequencyPenalty *float64
	PresencePenalty  *float64
	// Native names the fields of the client's wire format that the canonical model does not
	// carry (OpenAI logprobs, n > 1, ...). Only an upstream of that same format can honour them.
	Native Native
}

// JoinText concatenates the PartText parts of parts with sep between them.
func JoinText(parts []Part, sep string) string {
	n, count := 0, 0
	var only string
	for _, p := range parts {
		if p.Kind == PartText {
			n += len(p.Text)
			count++
			only = p.Text
		}
	}
	switch count {
	case 0:
		return ""
	case 1:
		return only
	}
	b := make([]byte, 0, n+len(sep)*(count-1))
	first := true
	for _, p := range parts {
		if p.Kind != PartText {
			continue
		}
		if !first {
			b = append(b, sep...)
		}
		first = false
		b = append(b, p.Text...)
	}
	return string(b)
}

// ToolName finds the name of the tool call with the given id in the messages before index before,
// searching backwards; "" when there is none.
func ToolName(msgs []Message, before int, callID string) string {
	for i := min(before, len(msgs)) - 1; i >= 0; i-- {
		if msgs[i].Role != RoleAssistant {
			continue
		}
		for _, p := range msgs[i].Content {
			if p.Kind == PartToolCall && p.ToolCall.ID == callID {
				return p.ToolCall.Name
			}
		}
	}
	return ""
}
