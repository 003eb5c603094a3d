package agents

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
)

// sdkCall is one call's outcome as testdata/sdk/harness.mjs prints it.
type sdkCall struct {
	OK     bool            `json:"ok"`
	Value  json.RawMessage `json:"value"`
	Status *int            `json:"status"`
	Error  string          `json:"error"`
}

// runSDK runs testdata/sdk/SCRIPT with node against Polydev (through the tap) and returns each
// call's outcome. The scripts import the SDKs from the npm tools directory, linked in beside them.
func (e *env) runSDK(t *testing.T, script string) map[string]sdkCall {
	t.Helper()
	r := e.newRun(t)
	for _, f := range []string{"harness.mjs", script} {
		b, err := os.ReadFile(filepath.Join("testdata", "sdk", f))
		if err != nil {
			t.Fatal(err)
		}
		r.write(t, f, string(b))
	}
	if err := os.Symlink(filepath.Join(e.tools, "node_modules"), filepath.Join(r.work, "node_modules")); err != nil {
		t.Fatal(err)
	}
	res := r.exec(t, []string{"POLYDEV_BASE=" + e.tap.URL, "POLYDEV_TOKEN=" + e.token}, e.bin("node"), script)
	var calls map[string]sdkCall
	if res.exit != 0 || json.Unmarshal([]byte(strings.TrimSpace(res.stdout)), &calls) != nil {
		t.Fatalf("node %s: %s", script, res)
	}
	return calls
}

// wantCall runs a subtest for the named call: it must have succeeded, and check its value.
func wantCall(t *testing.T, calls map[string]sdkCall, name string, check func(t *testing.T, v json.RawMessage)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		c, ok := calls[name]
		switch {
		case !ok:
			t.Fatal("the script did not run this call")
		case !c.OK:
			status := 0
			if c.Status != nil {
				status = *c.Status
			}
			t.Fatalf("failed (HTTP %d): %s", status, c.Error)
		}
		check(t, c.Value)
	})
}

func wantText(want string) func(*testing.T, json.RawMessage) {
	return func(t *testing.T, v json.RawMessage) {
		var got string
		if err := json.Unmarshal(v, &got); err != nil || got != want {
			t.Errorf("text = %s, want %q", v, want)
		}
	}
}

func wantPositive(t *testing.T, v json.RawMessage) {
	var n int64
	if err := json.Unmarshal(v, &n); err != nil || n <= 0 {
		t.Errorf("count = %s, want a positive integer", v)
	}
}

// sdkText is every fake's answer in the SDK tests: a JSON document, so that the structured-output
// call can parse it as the schema says.
const sdkText = `{"greeting":"hello from Polydev"}`

// TestOpenAISDK: the openai package's chat, streamed chat, responses.create, embeddings and
// response_format json_schema through Polydev to the fake OpenAI.
func TestOpenAISDK(t *testing.T) {
	e := newEnv(t)
	e.openai.SetScript(testkit.Script{Text: sdkText, Usage: testkit.DefaultUsage})
	calls := e.runSDK(t, "openai.mjs")
	wantCall(t, calls, "chat", wantText(sdkText))
	wantCall(t, calls, "chatStream", wantText(sdkText))
	wantCall(t, calls, "responses", wantText(sdkText))
	wantCall(t, calls, "embeddings", func(t *testing.T, v json.RawMessage) {
		var got struct{ Count, Dims, PromptTokens int }
		if err := json.Unmarshal(v, &got); err != nil || got.Count != 2 || got.Dims <= 0 || got.PromptTokens <= 0 {
			t.Errorf("embeddings = %s, want 2 vectors with usage", v)
		}
	})
	wantCall(t, calls, "jsonSchema", func(t *testing.T, v json.RawMessage) {
		var got struct{ Greeting string }
		if err := json.Unmarshal(v, &got); err != nil || got.Greeting != "hello from Polydev" {
			t.Errorf("structured output = %s", v)
		}
		for _, r := range e.openai.Requests() {
			if strings.Contains(string(r.Body), `"json_schema"`) {
				return
			}
		}
		t.Error("no request reached the upstream with the json_schema response_format")
	})
	wantNoToken(t, e.token, e.openai)
}

// TestAnthropicSDK: @anthropic-ai/sdk's messages (whole and streamed) and countTokens through
// Polydev to the fake Anthropic.
func TestAnthropicSDK(t *testing.T) {
	e := newEnv(t)
	e.anthropic.SetScript(testkit.Script{Text: sdkText, Usage: testkit.DefaultUsage})
	calls := e.runSDK(t, "anthropic.mjs")
	wantCall(t, calls, "messages", wantText(sdkText))
	wantCall(t, calls, "messagesStream", wantText(sdkText))
	wantCall(t, calls, "countTokens", wantPositive)
	wantNoToken(t, e.token, e.anthropic)
}

// TestGenAISDK: @google/genai's generateContent, generateContentStream and countTokens through
// Polydev's Gemini-native surface to the fake Gemini.
func TestGenAISDK(t *testing.T) {
	e := newEnv(t)
	e.gemini.SetScript(testkit.Script{Text: sdkText, Usage: testkit.DefaultUsage})
	calls := e.runSDK(t, "genai.mjs")
	wantCall(t, calls, "generateContent", wantText(sdkText))
	wantCall(t, calls, "generateContentStream", wantText(sdkText))
	wantCall(t, calls, "countTokens", wantPositive)
	wantNoToken(t, e.token, e.gemini)
}
