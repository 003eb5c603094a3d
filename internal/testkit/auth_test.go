package testkit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestWrongAndMissingKey(t *testing.T) {
	t.Parallel()
	for _, c := range constructors {
		t.Run(string(c.p), func(t *testing.T) {
			t.Parallel()
			u := c.new(t)
			req := generation(c.p, true)
			wrongStatus, missingStatus := 401, 401
			if c.p == Gemini {
				wrongStatus, missingStatus = 400, 403
			}
			req.key = keyOf("not-the-key")
			if status, hdr, body := req.do(t, u); status != wrongStatus || !isProviderError(c.p, body) {
				t.Errorf("wrong key: %d %s", status, body)
			} else if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("wrong key: Content-Type %q", hdr.Get("Content-Type"))
			}
			req.key = keyOf("")
			if status, _, body := req.do(t, u); status != missingStatus || !isProviderError(c.p, body) {
				t.Errorf("missing key: %d %s", status, body)
			}
			if got := u.Requests(); len(got) != 2 || got[0].Key != "not-the-key" || got[1].Key != "" {
				t.Errorf("recorded keys: %+v", got)
			}
		})
	}
}

// isProviderError checks body has the provider's error shape.
func isProviderError(p Provider, body []byte) bool {
	switch p {
	case Anthropic:
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type, Message string
			} `json:"error"`
			RequestID string `json:"request_id"`
		}
		return json.Unmarshal(body, &e) == nil && e.Type == "error" && e.Error.Type != "" && e.Error.Message != "" && e.RequestID != ""
	case Gemini:
		var e struct {
			Error struct {
				Code    int
				Message string
				Status  string
			} `json:"error"`
		}
		return json.Unmarshal(body, &e) == nil && e.Error.Code >= 400 && e.Error.Message != "" && e.Error.Status != ""
	default:
		var e struct {
			Error *struct {
				Message *string         `json:"message"`
				Type    *string         `json:"type"`
				Param   json.RawMessage `json:"param"`
				Code    json.RawMessage `json:"code"`
			} `json:"error"`
		}
		return json.Unmarshal(body, &e) == nil && e.Error != nil && e.Error.Message != nil && e.Error.Type != nil &&
			e.Error.Param != nil && e.Error.Code != nil
	}
}

func TestOpenAIKeyIsMaskedInError(t *testing.T) {
	t.Parallel()
	u := NewOpenAI(t)
	req := generation(OpenAI, false)
	req.key = keyOf("sk-proj-abcdefghijklmnopqrstuvwxyz1234")
	_, _, body := req.do(t, u)
	if bytes.Contains(body, []byte("abcdefghijklmnop")) || !bytes.Contains(body, []byte("sk-proj-")) || !bytes.Contains(body, []byte("1234.")) {
		t.Errorf("key not masked like OpenAI: %s", body)
	}
}

func TestGeminiKeyInQuery(t *testing.T) {
	t.Parallel()
	u := NewGemini(t)
	req := call{path: geminiGeneratePath + "?key=" + u.Key, body: geminiBody, key: keyOf("")}
	if status, _, body := req.do(t, u); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if r := u.LastRequest(); r.Key != u.Key || r.Header.Get("X-Goog-Api-Key") != "" {
		t.Errorf("recorded %+v", r)
	}
}

func TestAnyKeyAndExtraKeys(t *testing.T) {
	t.Parallel()
	open := NewOpenAI(t, WithAnyKey())
	req := generation(OpenAI, false)
	req.key = keyOf("")
	if status, _, _ := req.do(t, open); status != 200 {
		t.Errorf("WithAnyKey, no key: status %d", status)
	}
	u := NewAnthropic(t, WithKey("k1", "k2"))
	if u.Key != "k1" {
		t.Errorf("Key = %q", u.Key)
	}
	for key, want := range map[string]int{"k1": 200, "k2": 200, DefaultAnthropicKey: 401} {
		req := generation(Anthropic, false)
		req.key = keyOf(key)
		if status, _, _ := req.do(t, u); status != want {
			t.Errorf("key %q: status %d, want %d", key, status, want)
		}
	}
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		new    func(testing.TB, ...Option) *Upstream
		call   call
		status int
	}{
		{"openai bad json", NewOpenAI, call{path: "/v1/chat/completions", body: `{"model":`}, 400},
		{"openai no model", NewOpenAI, call{path: "/v1/chat/completions", body: `{"messages":[]}`}, 400},
		{"openai no messages", NewOpenAI, call{path: "/v1/chat/completions", body: `{"model":"m"}`}, 400},
		{"openai unknown path", NewOpenAI, call{path: "/v1/completions", body: `{}`}, 404},
		{"openai wrong method", NewOpenAI, call{method: "GET", path: "/v1/chat/completions"}, 404},
		{"openai unknown model", NewOpenAI, call{method: "GET", path: "/v1/models/nope"}, 404},
		{"anthropic no version", NewAnthropic, call{path: "/v1/messages", body: anthropicBody, header: map[string]string{"Anthropic-Version": ""}}, 400},
		{"anthropic no max_tokens", NewAnthropic, call{path: "/v1/messages", body: `{"model":"m","messages":[]}`}, 400},
		{"anthropic bad json", NewAnthropic, call{path: "/v1/messages", body: `nope`}, 400},
		{"anthropic unknown path", NewAnthropic, call{path: "/v1/complete", body: `{}`}, 404},
		{"gemini no contents", NewGemini, call{path: geminiGeneratePath, body: `{}`}, 400},
		{"gemini bad json", NewGemini, call{path: geminiGeneratePath, body: `{`}, 400},
		{"gemini unknown action", NewGemini, call{path: "/v1beta/models/gemini-2.5-flash:predict", body: geminiBody}, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := tc.new(t)
			status, _, body := tc.call.do(t, u)
			if status != tc.status || !isProviderError(u.Provider, body) {
				t.Errorf("got %d %s, want %d in the provider's error shape", status, body, tc.status)
			}
			if u.RequestCount() != 1 || len(u.Requests()) != 1 {
				t.Errorf("request not recorded")
			}
		})
	}
}

func TestModelLists(t *testing.T) {
	t.Parallel()
	paths := map[Provider]string{OpenAI: "/v1/models", Anthropic: "/v1/models", Gemini: "/v1beta/models"}
	for _, c := range constructors {
		u := c.new(t, WithModels("model-a", "model-b"))
		status, _, body := call{method: "GET", path: paths[c.p]}.do(t, u)
		if status != 200 || !bytes.Contains(body, []byte("model-a")) || !bytes.Contains(body, []byte("model-b")) {
			t.Errorf("%s: %d %s", c.p, status, body)
		}
		if status, _, _ := (call{method: "GET", path: paths[c.p], key: keyOf("bad")}).do(t, u); status < 400 {
			t.Errorf("%s: model list served to a wrong key", c.p)
		}
	}
	u := NewOpenAI(t)
	if status, _, body := (call{method: "GET", path: "/v1/models/gpt-4o"}).do(t, u); status != 200 || !bytes.Contains(body, []byte(`"id": "gpt-4o"`)) {
		t.Errorf("retrieve model: %d %s", status, body)
	}
}
