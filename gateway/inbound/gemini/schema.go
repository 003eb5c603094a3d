package gemini

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
)

// Gemini's Schema (functionDeclarations[].parameters, generationConfig.responseSchema) is a subset
// of OpenAPI 3.0: upper-case type names, "nullable" instead of a null type, integer limits written
// as strings (int64 in proto3 JSON), and Google's own propertyOrdering and example. Other providers
// take JSON Schema, so the schema is rewritten into it; fields it does not know are kept as given.

// maxSchemaDepth bounds nesting, so that a hostile schema cannot make the rewrite recurse deeply.
const maxSchemaDepth = 64

// schemaInts are the Schema fields that are int64, which proto3 JSON writes as strings.
var schemaInts = map[string]bool{
	"minItems": true, "maxItems": true, "minProperties": true, "maxProperties": true,
	"minLength": true, "maxLength": true,
}

// jsonSchema rewrites a Gemini Schema into JSON Schema. field names the schema in errors.
func jsonSchema(field string, raw json.RawMessage) (json.RawMessage, error) {
	v, err := convertSchema(field, raw, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func convertSchema(field string, raw json.RawMessage, depth int) (map[string]any, error) {
	if depth > maxSchemaDepth {
		return nil, wire.Invalid(field, "nested more than %d levels deep", maxSchemaDepth)
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil || in == nil {
		return nil, wire.Invalid(field, "must be a Schema object")
	}
	out := make(map[string]any, len(in))
	nullable := false
	for k, v := range in {
		switch k = lowerCamel(k); k {
		case "type":
			var t string
			if err := json.Unmarshal(v, &t); err != nil {
				return nil, wire.Invalid(field+".type", "must be a string")
			}
			switch t = strings.ToLower(t); t {
			case "string", "number", "integer", "boolean", "array", "object", "null":
				out["type"] = t
			case "type_unspecified", "":
			default:
				return nil, wire.Invalid(field+".type", "%q is not a Schema type", t)
			}
		case "nullable":
			if err := json.Unmarshal(v, &nullable); err != nil {
				return nil, wire.Invalid(field+".nullable", "must be a boolean")
			}
		case "properties":
			var props map[string]json.RawMessage
			if err := json.Unmarshal(v, &props); err != nil {
				return nil, wire.Invalid(field+".properties", "must be an object of Schemas")
			}
			conv := make(map[string]any, len(props))
			for name, p := range props {
				s, err := convertSchema(field+".properties."+name, p, depth+1)
				if err != nil {
					return nil, err
				}
				conv[name] = s
			}
			out["properties"] = conv
		case "items":
			s, err := convertSchema(field+".items", v, depth+1)
			if err != nil {
				return nil, err
			}
			out["items"] = s
		case "anyOf":
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, wire.Invalid(field+".anyOf", "must be an array of Schemas")
			}
			conv := make([]any, len(list))
			for i, s := range list {
				c, err := convertSchema(field+".anyOf["+strconv.Itoa(i)+"]", s, depth+1)
				if err != nil {
					return nil, err
				}
				conv[i] = c
			}
			out["anyOf"] = conv
		case "propertyOrdering", "example":
			// Gemini's own: the order is advice on generation, the example documentation.
		default:
			if schemaInts[k] {
				n, err := schemaInt(v)
				if err != nil {
					return nil, wire.Invalid(field+"."+k, "must be an integer")
				}
				out[k] = n
				continue
			}
			out[k] = v
		}
	}
	if nullable {
		if t, ok := out["type"].(string); ok && t != "null" {
			out["type"] = []string{t, "null"}
		}
	}
	return out, nil
}

// schemaInt reads an int64 written as a number or, as proto3 JSON writes it, a string.
func schemaInt(v json.RawMessage) (int64, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return strconv.ParseInt(s, 10, 64)
	}
	var n int64
	err := json.Unmarshal(v, &n)
	return n, err
}
