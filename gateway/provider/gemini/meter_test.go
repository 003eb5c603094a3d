package gemini

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/sse"
	"github.com/polydev/polydev/internal/testkit"
)

// sendRaw posts body through SendRaw to the fake and returns the open answer.
func sendRaw(t *testing.T, up *testkit.Upstream, op, model, body string, h http.Header) *http.Response {
	t.Helper()
	resp, err := (&Provider{}).SendRaw(t.Context(), http.DefaultClient, provider.Target{BaseURL: up.URL, APIKey: up.Key},
		&provider.RawRequest{Op: op, Model: model, Body: []byte(body), Header: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestMeter: the same usage from a whole answer, an SSE stream (complete at its finishReason
// chunk) and a JSON-array stream.
func TestMeter(t *testing.T) {
	t.Parallel()
	s := testkit.Script{Text: "one two three", Chunks: 3, Usage: testkit.Usage{PromptTokens: 5000, CompletionTokens: 42, CachedTokens: 3000, ReasoningTokens: 10}}
	up := testkit.NewGemini(t, testkit.WithScript(s))
	want := llm.Usage{InputTokens: 5000, OutputTokens: 42, CacheReadTokens: 3000, ReasoningTokens: 10}
	body := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	meter := func() provider.Meter {
		return (&Provider{}).Meter(&provider.RawRequest{Op: OpGenerate, Body: []byte(body)})
	}

	for _, op := range []string{OpGenerate, OpStreamArray} {
		b, _ := io.ReadAll(sendRaw(t, up, op, "gemini-2.5-flash", body, nil).Body)
		m := meter()
		if err := m.Body(b); err != nil || !m.Complete() || m.Usage() != want {
			t.Fatalf("%s: usage %+v complete %v err %v", op, m.Usage(), m.Complete(), err)
		}
	}
	if got := up.LastRequest(); got.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || got.RawQuery != "" {
		t.Errorf("array stream went to %s?%s", got.Path, got.RawQuery)
	}

	resp := sendRaw(t, up, OpStream, "gemini-2.5-flash", body, nil)
	if got := up.LastRequest(); got.RawQuery != "alt=sse" || string(got.Body) != body {
		t.Errorf("SSE stream: query %q body %s", got.RawQuery, got.Body)
	}
	m := meter()
	rd := sse.NewReader(resp.Body, 0)
	events, completeAt := 0, -1
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		events++
		was := m.Complete()
		if relay, err := m.Event(ev); !relay || err != nil {
			t.Fatalf("event %d: relay %v err %v", events, relay, err)
		}
		if !was && m.Complete() {
			completeAt = events
		}
		if !m.Complete() && !m.Usage().Partial {
			t.Fatal("usage before the end is not partial")
		}
	}
	if completeAt != events || m.Usage() != want {
		t.Fatalf("stream: usage %+v, complete at event %d of %d", m.Usage(), completeAt, events)
	}
	if m := (&Provider{}).Meter(&provider.RawRequest{Op: OpCountTokens}); m != nil {
		t.Error("countTokens is metered")
	}
}

// A stream cut after some text is billed for the prompt reported and an estimate of the output;
// an error chunk is the provider's error.
func TestMeterPartial(t *testing.T) {
	t.Parallel()
	m := &meter{reqBytes: 400}
	for _, data := range []string{
		`{"candidates":[{"content":{"parts":[{"text":"` + strings.Repeat("a", 400) + `"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":90,"totalTokenCount":100}}`,
	} {
		if _, err := m.Event(sse.Event{Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	u := m.Usage()
	if m.Complete() || !u.Partial || u.InputTokens != 100 || u.CacheReadTokens != 90 || u.OutputTokens != 100 || !u.OutputEstimated || u.InputEstimated {
		t.Fatalf("%+v", u)
	}
	_, err := m.Event(sse.Event{Data: []byte(`{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`)})
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrOverloaded || !e.InStream {
		t.Fatalf("error chunk: %v", err)
	}
	if err := (&meter{}).Body([]byte(`[{"candidates":`)); err == nil {
		t.Error("a broken array is not reported")
	}
}

func TestSendRaw(t *testing.T) {
	t.Parallel()
	up := testkit.NewGemini(t)
	body := `{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"googleSearch":{}}],"cachedContent":"cachedContents/x"}`
	h := http.Header{"Authorization": {"Bearer pd_secret"}, "X-Goog-Api-Key": {"pd_secret"}, "Cookie": {"a=b"}}
	sendRaw(t, up, OpCountTokens, "models/gemini-2.5-pro", body, h)
	got := up.LastRequest()
	if got.Path != "/v1beta/models/gemini-2.5-pro:countTokens" || string(got.Body) != body || got.Key != up.Key ||
		got.Header.Get("Authorization") != "" || got.Header.Get("Cookie") != "" || strings.Contains(got.RawQuery, "key") {
		t.Fatalf("upstream got %s?%s %v %s", got.Path, got.RawQuery, got.Header, got.Body)
	}
	_, err := (&Provider{}).SendRaw(t.Context(), http.DefaultClient, provider.Target{BaseURL: up.URL, APIKey: "AIzaWrong"},
		&provider.RawRequest{Op: OpGenerate, Model: "gemini-2.5-flash", Body: []byte(body)})
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrAuth || !e.Failover() {
		t.Fatalf("wrong key: %v", err)
	}
	for _, r := range []*provider.RawRequest{{Op: "embedContent", Model: "gemini-2.5-flash"}, {Op: OpGenerate, Model: "../x"}} {
		if _, err := (&Provider{}).SendRaw(t.Context(), http.DefaultClient, provider.Target{BaseURL: up.URL}, r); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

// FuzzMeter: any bytes from an upstream, as events or as a body, are read without a panic; a body
// always completes the answer. (Counts out of range are the router's to clamp where usage enters
// accounting, for every provider alike.)
func FuzzMeter(f *testing.F) {
	for _, name := range testkit.PayloadNames(testkit.Gemini) {
		f.Add(testkit.Payload(name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &meter{reqBytes: 10}
		_ = m.Body(b)
		if u := m.Usage(); !m.Complete() || u.Partial {
			t.Fatalf("a body left the answer incomplete: %+v", u)
		}
		m = &meter{}
		if relay, _ := m.Event(sse.Event{Data: b}); !relay {
			t.Fatal("an event was not relayed")
		}
		_ = m.Usage()
	})
}
