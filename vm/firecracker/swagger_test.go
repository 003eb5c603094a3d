package firecracker

// A small validator for the subset of Swagger 2.0 that the Firecracker API description uses: paths
// with {param} segments, per-method operations with body and path parameters, and definitions whose
// schemas use type (object, string, integer, number, boolean, array), required, properties, items,
// enum, minimum, maximum, additionalProperties and $ref.
//
// It is stricter than JSON Schema in one place, on purpose: a property the schema does not declare is
// an error unless additionalProperties allows it, because Firecracker itself rejects unknown fields.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

type apiSpec struct {
	Paths       map[string]map[string]*operation `yaml:"paths"`
	Definitions map[string]*schema               `yaml:"definitions"`
	path        string
}

type operation struct {
	OperationID string      `yaml:"operationId"`
	Parameters  []parameter `yaml:"parameters"`
}

type parameter struct {
	Name     string  `yaml:"name"`
	In       string  `yaml:"in"`
	Required bool    `yaml:"required"`
	Type     string  `yaml:"type"`
	Schema   *schema `yaml:"schema"`
}

type schema struct {
	Ref                  string             `yaml:"$ref"`
	Type                 string             `yaml:"type"`
	Required             []string           `yaml:"required"`
	Properties           map[string]*schema `yaml:"properties"`
	AdditionalProperties yaml.Node          `yaml:"additionalProperties"`
	Items                *schema            `yaml:"items"`
	Enum                 []string           `yaml:"enum"`
	Minimum              *float64           `yaml:"minimum"`
	Maximum              *float64           `yaml:"maximum"`
}

// specRelPath is our record of the Firecracker API operations and fields the driver uses (JSON, which
// the YAML decoder reads as is), relative to the module root. It lives in the repository, so a clone
// with nothing beside it runs these tests.
const specRelPath = "vm/firecracker/testdata/firecracker-api.json"

var (
	specOnce sync.Once
	loaded   *apiSpec
	loadErr  error
)

// loadSpec reads and parses the API description once per test binary.
func loadSpec(t testing.TB) *apiSpec {
	t.Helper()
	specOnce.Do(func() { loaded, loadErr = readSpec() })
	if loadErr != nil {
		t.Fatalf("Firecracker API description: %v", loadErr)
	}
	return loaded
}

func readSpec() (*apiSpec, error) {
	root, err := findModuleRoot()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, filepath.FromSlash(specRelPath))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (expected at %s, relative to the module root %s)", err, specRelPath, root)
	}
	var s apiSpec
	if err := yaml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(s.Paths) == 0 || len(s.Definitions) == 0 {
		return nil, fmt.Errorf("%s has no paths or definitions", path)
	}
	s.path = path
	return &s, nil
}

// findModuleRoot walks up from the working directory to the directory holding go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// matchPath finds the path template that path matches, preferring literal segments over
// parameters, and returns the template and the parameter values.
func (s *apiSpec) matchPath(path string) (string, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best, bestLiterals := "", -1
	var bestParams map[string]string
	for tmpl := range s.Paths {
		tsegs := strings.Split(strings.Trim(tmpl, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		params, literals, ok := map[string]string{}, 0, true
		for i, ts := range tsegs {
			if name, isParam := strings.CutPrefix(ts, "{"); isParam {
				if segs[i] == "" {
					ok = false
					break
				}
				params[strings.TrimSuffix(name, "}")] = segs[i]
				continue
			}
			if ts != segs[i] {
				ok = false
				break
			}
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestLiterals, bestParams = tmpl, literals, params
		}
	}
	return best, bestParams, bestLiterals >= 0
}

// validateRequest checks one request against the description: the path matches a template, the
// method is an operation of it, path parameters are declared, and the body is present when required,
// absent when the operation takes none, JSON, and valid against the referenced schema.
func (s *apiSpec) validateRequest(method, path, contentType string, body []byte) error {
	tmpl, pathParams, ok := s.matchPath(path)
	if !ok {
		return fmt.Errorf("no path of the API matches %s", path)
	}
	op := s.Paths[tmpl][strings.ToLower(method)]
	if op == nil {
		return fmt.Errorf("%s is not an operation of %s", method, tmpl)
	}
	var bodyParam *parameter
	for i, p := range op.Parameters {
		switch p.In {
		case "body":
			bodyParam = &op.Parameters[i]
		case "path":
			if _, ok := pathParams[p.Name]; !ok && p.Required {
				return fmt.Errorf("%s %s: missing path parameter %s", method, tmpl, p.Name)
			}
		}
	}
	for name := range pathParams {
		if !slices.ContainsFunc(op.Parameters, func(p parameter) bool { return p.In == "path" && p.Name == name }) {
			return fmt.Errorf("%s %s: path parameter %s is not declared", method, tmpl, name)
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if bodyParam != nil && bodyParam.Required {
			return fmt.Errorf("%s %s: the body is required", method, tmpl)
		}
		return nil
	}
	if bodyParam == nil {
		return fmt.Errorf("%s %s takes no body", method, tmpl)
	}
	if ct, _, _ := strings.Cut(contentType, ";"); strings.TrimSpace(ct) != "application/json" {
		return fmt.Errorf("%s %s: Content-Type %q, the API consumes application/json", method, tmpl, contentType)
	}
	v, err := decodeJSON(body)
	if err != nil {
		return fmt.Errorf("%s %s: body is not one JSON value: %w", method, tmpl, err)
	}
	if errs := s.validate(bodyParam.Schema, v, "body", 0); len(errs) > 0 {
		return fmt.Errorf("%s %s: %s", method, tmpl, strings.Join(errs, "; "))
	}
	// Firecracker answers 400 when the id in the path and the one in the body differ.
	if obj, ok := v.(map[string]any); ok {
		for name, val := range pathParams {
			if b, ok := obj[name]; ok && b != val {
				return fmt.Errorf("%s %s: path %s=%q but body %s=%v", method, tmpl, name, val, name, b)
			}
		}
	}
	return nil
}

// validateDefinition checks v against a named definition (used for the fake's answers).
func (s *apiSpec) validateDefinition(name string, v any) []string {
	return s.validate(&schema{Ref: "#/definitions/" + name}, v, name, 0)
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func (s *apiSpec) resolve(sc *schema) (*schema, error) {
	for depth := 0; sc != nil && sc.Ref != ""; depth++ {
		name, ok := strings.CutPrefix(sc.Ref, "#/definitions/")
		if !ok || depth > 16 {
			return nil, fmt.Errorf("unsupported $ref %q", sc.Ref)
		}
		if sc = s.Definitions[name]; sc == nil {
			return nil, fmt.Errorf("$ref to missing definition %q", name)
		}
	}
	return sc, nil
}

// validate returns one message per violation found in v at location at.
func (s *apiSpec) validate(sc *schema, v any, at string, depth int) []string {
	if depth > 32 {
		return []string{at + ": schema nesting too deep"}
	}
	sc, err := s.resolve(sc)
	if err != nil {
		return []string{at + ": " + err.Error()}
	}
	if sc == nil {
		return nil
	}
	if v == nil {
		return []string{at + ": null is not allowed"}
	}
	typ := sc.Type
	if typ == "" && sc.Properties != nil {
		typ = "object"
	}
	var errs []string
	switch typ {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %s", at, jsonKind(v))}
		}
		for _, r := range sc.Required {
			if _, ok := obj[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: missing required property %q", at, r))
			}
		}
		for _, k := range sortedKeys(obj) {
			if prop, ok := sc.Properties[k]; ok {
				errs = append(errs, s.validate(prop, obj[k], at+"."+k, depth+1)...)
				continue
			}
			errs = append(errs, s.validateExtra(sc, k, obj[k], at, depth)...)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %s", at, jsonKind(v))}
		}
		for i, item := range arr {
			errs = append(errs, s.validate(sc.Items, item, fmt.Sprintf("%s[%d]", at, i), depth+1)...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: want a string, got %s", at, jsonKind(v))}
		}
		if len(sc.Enum) > 0 && !slices.Contains(sc.Enum, str) {
			errs = append(errs, fmt.Sprintf("%s: %q is not one of %v", at, str, sc.Enum))
		}
	case "integer", "number":
		n, ok := v.(json.Number)
		if !ok {
			return []string{fmt.Sprintf("%s: want %s, got %s", at, typ, jsonKind(v))}
		}
		errs = append(errs, checkNumber(sc, n, typ, at)...)
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: want a boolean, got %s", at, jsonKind(v))}
		}
	case "":
		// No type: anything goes (the description has no such schema on a request path today).
	default:
		errs = append(errs, fmt.Sprintf("%s: validator does not know type %q", at, typ))
	}
	return errs
}

// validateExtra handles a property the schema does not declare.
func (s *apiSpec) validateExtra(sc *schema, key string, v any, at string, depth int) []string {
	ap := sc.AdditionalProperties
	switch ap.Kind {
	case 0:
		return []string{fmt.Sprintf("%s: property %q is not in the schema", at, key)}
	case yaml.ScalarNode:
		if ap.Value == "true" {
			return nil
		}
		return []string{fmt.Sprintf("%s: property %q is not in the schema", at, key)}
	case yaml.MappingNode:
		var extra schema
		if err := ap.Decode(&extra); err != nil {
			return []string{fmt.Sprintf("%s: bad additionalProperties: %v", at, err)}
		}
		return s.validate(&extra, v, at+"."+key, depth+1)
	}
	return []string{fmt.Sprintf("%s: unsupported additionalProperties", at)}
}

func checkNumber(sc *schema, n json.Number, typ, at string) []string {
	r, ok := new(big.Rat).SetString(n.String())
	if !ok {
		return []string{fmt.Sprintf("%s: %q is not a number", at, n)}
	}
	if typ == "integer" && (!r.IsInt() || strings.ContainsAny(n.String(), ".eE")) {
		return []string{fmt.Sprintf("%s: %s is not an integer", at, n)}
	}
	var errs []string
	if sc.Minimum != nil && r.Cmp(new(big.Rat).SetFloat64(*sc.Minimum)) < 0 {
		errs = append(errs, fmt.Sprintf("%s: %s is below the minimum %v", at, n, *sc.Minimum))
	}
	if sc.Maximum != nil && r.Cmp(new(big.Rat).SetFloat64(*sc.Maximum)) > 0 {
		errs = append(errs, fmt.Sprintf("%s: %s is above the maximum %v", at, n, *sc.Maximum))
	}
	return errs
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
