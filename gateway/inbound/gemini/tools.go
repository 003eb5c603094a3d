package gemini

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// serverTool names a Gemini built-in tool set in t, or "" when t declares functions only.
func serverTool(t *wireTool) (field, what string) {
	for _, s := range []struct {
		raw         json.RawMessage
		field, what string
	}{
		{t.GoogleSearch, "googleSearch", "Gemini's Google Search grounding"},
		{t.GoogleSearchRetrieval, "googleSearchRetrieval", "Gemini's Google Search grounding"},
		{t.CodeExecution, "codeExecution", "Gemini's code execution"},
		{t.URLContext, "urlContext", "Gemini's URL context tool"},
		{t.ComputerUse, "computerUse", "Gemini's computer use tool"},
		{t.FileSearch, "fileSearch", "Gemini's file search"},
		{t.GoogleMaps, "googleMaps", "Gemini's Google Maps grounding"},
		{t.Retrieval, "retrieval", "Gemini's retrieval"},
		{t.EnterpriseWebSearch, "enterpriseWebSearch", "Gemini's enterprise web search"},
	} {
		if len(s.raw) > 0 && string(s.raw) != "null" {
			return s.field, s.what
		}
	}
	return "", ""
}

func decodeTools(prefix string, w *wireRequest, r *llm.Request) error {
	names := map[string]bool{}
	for i := range w.Tools {
		t := &w.Tools[i]
		field := prefix + "tools[" + strconv.Itoa(i) + "]"
		if f, what := serverTool(t); f != "" {
			return crossOnly(field+"."+f, what)
		}
		for j, d := range t.FunctionDeclarations {
			df := field + ".functionDeclarations[" + strconv.Itoa(j) + "]"
			if !validFunctionName(d.Name) {
				return wire.Invalid(df+".name", "must be 1 to 128 letters, digits, underscores, dots, colons or dashes, starting with a letter or underscore")
			}
			if names[d.Name] {
				return wire.Invalid(df+".name", "%q is declared twice", d.Name)
			}
			names[d.Name] = true
			params, err := parameters(df, &d)
			if err != nil {
				return err
			}
			r.Tools = append(r.Tools, llm.Tool{Name: d.Name, Description: d.Description, Parameters: params})
		}
	}
	return toolChoice(prefix+"toolConfig.functionCallingConfig", w.ToolConfig, names, r)
}

// parameters is a declaration's argument schema as JSON Schema.
func parameters(field string, d *wireFunctionDecl) (json.RawMessage, error) {
	hasSchema := len(d.Parameters) > 0 && string(d.Parameters) != "null"
	hasJSON := len(d.ParametersJSONSchema) > 0 && string(d.ParametersJSONSchema) != "null"
	switch {
	case hasSchema && hasJSON:
		return nil, wire.Invalid(field, "parameters and parametersJsonSchema are mutually exclusive")
	case hasJSON:
		if !wire.IsObject(d.ParametersJSONSchema) {
			return nil, wire.Invalid(field+".parametersJsonSchema", "must be a JSON Schema object")
		}
		return d.ParametersJSONSchema, nil
	case hasSchema:
		return jsonSchema(field+".parameters", d.Parameters)
	}
	return nil, nil
}

func toolChoice(field string, tc *wireToolConfig, names map[string]bool, r *llm.Request) error {
	if tc == nil || tc.FunctionCallingConfig == nil {
		return nil
	}
	fc := tc.FunctionCallingConfig
	switch strings.ToUpper(fc.Mode) {
	case "", "MODE_UNSPECIFIED":
	case "AUTO", "VALIDATED":
		// VALIDATED lets the model answer in text or with schema-valid calls: other providers'
		// auto mode, whose calls are checked against the schema by the client anyway.
		r.ToolChoice.Mode = llm.ToolChoiceAuto
	case "NONE":
		r.ToolChoice.Mode = llm.ToolChoiceNone
	case "ANY":
		if len(names) == 0 {
			return wire.Invalid(field+".mode", "ANY needs functionDeclarations")
		}
		allowed := map[string]bool{}
		for k, n := range fc.AllowedFunctionNames {
			if !names[n] {
				return wire.Invalid(field+".allowedFunctionNames["+strconv.Itoa(k)+"]", "%q is not among the functionDeclarations", n)
			}
			allowed[n] = true
		}
		switch {
		case len(allowed) == 0 || len(allowed) == len(names):
			r.ToolChoice.Mode = llm.ToolChoiceRequired
		case len(allowed) == 1:
			r.ToolChoice.Mode, r.ToolChoice.Name = llm.ToolChoiceTool, fc.AllowedFunctionNames[0]
		default:
			return wire.Invalid(field+".allowedFunctionNames", "a subset of more than one function cannot be translated for another provider (name one, or all)")
		}
	default:
		return wire.Invalid(field+".mode", "must be AUTO, ANY, NONE or VALIDATED, not %q", fc.Mode)
	}
	return nil
}

// validFunctionName is Gemini's rule for function names.
func validFunctionName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		if i == 0 && !letter {
			return false
		}
		if !letter && !('0' <= c && c <= '9' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
