package responses

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// ToolRef is the client's view of a tool the model knows under another form.
type ToolRef struct {
	Name      string // the tool's name as the client declared it
	Namespace string // the namespace it was declared in ("" for none)
	Custom    bool   // a freeform tool: calls carry one string input, not JSON arguments
}

type wireTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Format      *struct {
		Type       string `json:"type"`
		Syntax     string `json:"syntax"`
		Definition string `json:"definition"`
	} `json:"format"`
	Tools []wireTool `json:"tools"` // a namespace's tools
}

// hostedDropped are tools OpenAI runs on its side that other providers cannot: Codex declares
// web_search by default, and a 400 would make it unusable with any other model, so the tool is
// left out (the model answers without searching). Any other hosted tool is refused.
var hostedDropped = map[string]bool{"web_search": true, "web_search_preview": true}

// toolCollector turns the client's tools (top-level, in namespaces, or in an additional_tools
// input item) into canonical tools with unique names.
type toolCollector struct {
	r     *llm.Request
	opts  *Options
	names map[string]bool
	byNS  map[[2]string]string // (namespace, name) -> the name the model knows, for namespaced tools
}

func (tc *toolCollector) add(field string, tools []wireTool) error {
	return tc.addIn(field, "", tools)
}

func (tc *toolCollector) addIn(field, ns string, tools []wireTool) error {
	for i, t := range tools {
		f := field + "[" + itoa(i) + "]"
		if t.Type == "namespace" {
			if ns != "" {
				return wire.Invalid(f+".type", "namespaces do not nest")
			}
			if !wire.ValidToolName(t.Name) {
				return wire.Invalid(f+".name", "must be 1 to 64 letters, digits, underscores or dashes")
			}
			if err := tc.addIn(f+".tools", t.Name, t.Tools); err != nil {
				return err
			}
			continue
		}
		if hostedDropped[t.Type] {
			continue
		}
		if err := tc.one(f, ns, &t); err != nil {
			return err
		}
	}
	return nil
}

func (tc *toolCollector) one(field, ns string, t *wireTool) error {
	tool := llm.Tool{Name: t.Name, Description: t.Description}
	custom := false
	switch t.Type {
	case "function":
		params := t.Parameters
		if string(params) == "null" {
			params = nil
		}
		if len(params) > 0 && !wire.IsObject(params) {
			return wire.Invalid(field+".parameters", "must be a JSON Schema object")
		}
		tool.Parameters = params
	case "custom":
		grammar := ""
		if f := t.Format; f != nil && f.Type == "grammar" && len(f.Definition) <= maxGrammarInPrompt {
			grammar = "(" + f.Syntax + ")\n" + f.Definition
		}
		tool.Parameters = customParameters(grammar)
		custom = true
	case "":
		return wire.Invalid(field+".type", "required")
	default:
		return wire.Invalid(field+".type", "%q is a tool OpenAI runs itself; on this route only function and custom tools are supported", t.Type)
	}
	if !wire.ValidToolName(t.Name) {
		return wire.Invalid(field+".name", "must be 1 to 64 letters, digits, underscores or dashes")
	}
	if len(tc.r.Tools) >= maxTools {
		return wire.Invalid(field, "more than %d tools", maxTools)
	}
	name := t.Name
	if tc.names[name] {
		if ns == "" {
			return wire.Invalid(field+".name", "%q is declared twice", t.Name)
		}
		// The same name in two namespaces: the model gets this one qualified.
		name = ns + "__" + t.Name
		if len(name) > 64 || tc.names[name] {
			return wire.Invalid(field+".name", "%q is declared twice", t.Name)
		}
	}
	tc.names[name] = true
	tool.Name = name
	tc.r.Tools = append(tc.r.Tools, tool)
	if ns != "" {
		if tc.byNS == nil {
			tc.byNS = map[[2]string]string{}
		}
		tc.byNS[[2]string{ns, t.Name}] = name
	}
	if custom || ns != "" || name != t.Name {
		if tc.opts.Tools == nil {
			tc.opts.Tools = map[string]ToolRef{}
		}
		tc.opts.Tools[name] = ToolRef{Name: t.Name, Namespace: ns, Custom: custom}
	}
	return nil
}

// modelName is the name the model knows the client's tool (namespace, name) by.
func (tc *toolCollector) modelName(ns, name string) string {
	if ns != "" {
		if n, ok := tc.byNS[[2]string{ns, name}]; ok {
			return n
		}
	}
	return name
}

// customParameters is the schema a freeform tool becomes: one string argument.
func customParameters(format string) json.RawMessage {
	desc := "The tool's whole input, as free text."
	if format != "" {
		desc += " It must match this grammar:\n" + format
	}
	b, _ := json.Marshal(map[string]any{
		"type":       "object",
		"properties": map[string]any{"input": map[string]string{"type": "string", "description": desc}},
		"required":   []string{"input"},
	})
	return b
}

func decodeToolChoice(raw json.RawMessage, tc *toolCollector, r *llm.Request) error {
	if !present(raw) {
		return nil
	}
	if isString, err := wire.StringToolChoice(raw, r); isString {
		return err
	}
	var named struct {
		Type      string `json:"type"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Mode      string `json:"mode"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return wire.Invalid("tool_choice", "must be a string or an object")
	}
	switch named.Type {
	case "function", "custom":
		name := tc.modelName(named.Namespace, named.Name)
		if !tc.names[name] {
			return wire.Invalid("tool_choice.name", "%q is not among tools", named.Name)
		}
		r.ToolChoice.Mode, r.ToolChoice.Name = llm.ToolChoiceTool, name
		return nil
	case "allowed_tools":
		// The list narrows the tools the model may call while all stay declared (so a prompt
		// cache holds); the canonical model cannot say that, so only the mode is kept.
		switch named.Mode {
		case "auto", "required":
			r.ToolChoice.Mode = llm.ToolChoiceMode(named.Mode)
			return nil
		}
		return wire.Invalid("tool_choice.mode", "must be \"auto\" or \"required\"")
	}
	return wire.Invalid("tool_choice.type", "%q is not supported on this route", named.Type)
}
