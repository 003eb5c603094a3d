package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// gwRequest posts a chat completion with an API token and returns the raw response.
func (e *env) gwRequest(ctx context.Context, path, token, body string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// TestClientDisconnectMidStream: the client leaves during a slow stream; the upstream request is
// cancelled and the usage record bills what was produced, marked cancelled.
func TestClientDisconnectMidStream(t *testing.T) {
	for _, prov := range []string{"openai", "anthropic", "gemini"} {
		t.Run(prov, func(t *testing.T) {
			t.Parallel()
			e := gatewayEnv(t, "sqlite")
			gone := make(chan testkit.Disconnect, 1)
			fakes := e.platformFakes(testkit.WithTokenDelay(20*time.Millisecond), testkit.WithOnDisconnect(func(d testkit.Disconnect) { gone <- d }),
				testkit.WithScript(testkit.Script{Text: strings.Repeat("word ", 200), Usage: testkit.Usage{PromptTokens: 50, CompletionTokens: 200}}))
			var f fake
			for _, x := range fakes {
				if x.provider == prov {
					f = x
				}
			}
			token, u := e.apiUser("dc-"+prov+"@example.com", polydev.TierFree)
			ctx, cancel := context.WithCancel(t.Context())
			res := e.gwRequest(ctx, "/v1/chat/completions", token, `{"model":"`+f.model+`","stream":true,"messages":[{"role":"user","content":"go"}]}`)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			// Read a few content chunks, then hang up.
			sc := bufio.NewScanner(res.Body)
			seen := 0
			for sc.Scan() && seen < 5 {
				if strings.Contains(sc.Text(), `"content"`) {
					seen++
				}
			}
			cancel()
			res.Body.Close()
			select {
			case d := <-gone:
				if d.DeltasSent >= 200 {
					t.Fatalf("upstream sent everything (%d deltas): not cancelled", d.DeltasSent)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("upstream never saw the disconnect")
			}
			var rec *polydev.UsageRecord
			for range 100 { // the handler finishes the record right after the relay returns
				if recs := e.usageOf(u); len(recs) == 1 {
					rec = recs[0]
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if rec == nil {
				t.Fatal("no usage record for the cancelled stream")
			}
			if rec.Status != polydev.UsageCancelled || rec.OutputTokens < 5 || rec.OutputTokens >= 200 || rec.Cost <= 0 {
				t.Fatalf("cancelled stream record = %+v", rec)
			}
		})
	}
}

// TestUpstreamErrors: upstream failures reach the client as clear errors in the inbound shape, with
// no panic and no hang, and no provider key in the body.
func TestUpstreamErrors(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, _ := e.apiUser("errs@example.com", polydev.TierFree)
	scripts := map[string]testkit.Script{
		"401":       testkit.ErrorScript(401),
		"429":       testkit.ErrorScript(429),
		"500":       testkit.ErrorScript(500),
		"529":       {Error: &testkit.ErrorReply{Status: 529, Message: "Overloaded"}},
		"midstream": {Text: "a b c d", StreamError: &testkit.StreamError{AfterDeltas: 2}},
		"malformed": {Text: "a b c d", Malformed: &testkit.Malformed{AfterDeltas: 1, Abort: true}},
	}
	for _, f := range fakes {
		for name, sc := range scripts {
			for _, stream := range []bool{false, true} {
				for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
					f.up.SetScript(sc)
					body := `{"model":"` + f.model + `","max_tokens":50,"stream":` + map[bool]string{true: "true", false: "false"}[stream] +
						`,"messages":[{"role":"user","content":"hi"}]}`
					ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
					res := e.gwRequest(ctx, path, token, body)
					b, err := io.ReadAll(res.Body)
					res.Body.Close()
					cancel()
					if err != nil {
						t.Fatalf("%s %s %s stream=%v: reading: %v", f.provider, name, path, stream, err)
					}
					where := f.provider + " " + name + " " + path
					if strings.Contains(string(b), f.up.Key) {
						t.Fatalf("%s: provider key in response", where)
					}
					if res.StatusCode == 200 && !(stream && (name == "midstream" || name == "malformed")) {
						t.Fatalf("%s stream=%v: status 200: %s", where, stream, b)
					}
					if res.StatusCode >= 200 && res.StatusCode < 300 && !strings.Contains(string(b), "error") {
						t.Fatalf("%s stream=%v: a failed stream must end with an error event: %s", where, stream, b)
					}
					if res.StatusCode == 500 {
						t.Fatalf("%s: upstream failure answered 500 (our own failure): %s", where, b)
					}
				}
			}
		}
	}
	if strings.Contains(e.logs.String(), fakes[0].up.Key) || strings.Contains(e.logs.String(), fakes[1].up.Key) || strings.Contains(e.logs.String(), fakes[2].up.Key) {
		t.Fatal("a provider key reached the logs")
	}
}

// TestBodyCannotChooseUpstream: a request body naming an upstream URL or key is not obeyed: the call
// goes to the configured upstream with the configured key.
func TestBodyCannotChooseUpstream(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, _ := e.apiUser("inject@example.com", polydev.TierFree)
	body := `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],
		"base_url":"http://169.254.169.254/","api_key":"sk-attacker","baseUrl":"http://evil/","apiKey":"sk-attacker"}`
	res := e.gwRequest(t.Context(), "/v1/chat/completions", token, body)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 && res.StatusCode != 400 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if res.StatusCode == 200 {
		// Same provider: the body goes as the client wrote it (OpenAI ignores members it does not
		// know), but to the configured upstream with the configured key.
		last := fakes[0].up.LastRequest()
		if last.Key != fakes[0].up.Key || last.Header.Get("Authorization") != "Bearer "+fakes[0].up.Key {
			t.Fatalf("upstream request = %+v", last)
		}
	}
	// Translated: nothing of them reaches the upstream at all.
	res = e.gwRequest(t.Context(), "/v1/chat/completions", token, strings.Replace(body, "openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", 1))
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if last := fakes[1].up.LastRequest(); res.StatusCode != 200 || last.Key != fakes[1].up.Key || strings.Contains(string(last.Body), "sk-attacker") || strings.Contains(string(last.Body), "169.254") {
		t.Fatalf("status %d, upstream request = %+v", res.StatusCode, last)
	}
	e.want(e.do("POST", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+token, "X-Upstream-Url", "http://127.0.0.1:1/"), http.StatusOK)
}

// TestFailoverOn429: the first platform key answers 429; the second serves; the client sees one
// successful response and the record names the second key.
func TestFailoverOn429(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := gatewayEnv(t, engine)
			up := testkit.NewOpenAI(t, testkit.WithKey("sk-good-key-1", "sk-busy-key-1"), testkit.WithKeyScript("sk-busy-key-1", testkit.ErrorScript(429)))
			admin := e.signup("fo-admin@example.com", pw)
			e.makeAdmin("fo-admin@example.com")
			var busy, good keyResp
			e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": "sk-busy-key-1", "baseUrl": up.BaseURL(), "priorityOrder": 0}, "Cookie", admin), 201).json(t, &busy)
			e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": "sk-good-key-1", "baseUrl": up.BaseURL(), "priorityOrder": 1}, "Cookie", admin), 201).json(t, &good)
			token, u := e.apiUser("fo@example.com", polydev.TierFree)
			r := e.want(e.do("POST", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+token), 200)
			if !strings.Contains(string(r.body), `"chat.completion"`) {
				t.Fatalf("body = %s", r.body)
			}
			if up.RequestCount() != 2 {
				t.Fatalf("upstream saw %d requests, want 2 (429, then success)", up.RequestCount())
			}
			recs := e.usageOf(u)
			if len(recs) != 1 || recs[0].KeyID != good.Key.ID || recs[0].Status != polydev.UsageOK {
				t.Fatalf("records = %+v", recs)
			}
			if r.header.Get(OverheadHeader) == "" {
				t.Fatal("no overhead header")
			}
		})
	}
}

// TestUndecryptableKeyFailsOver: a platform key whose stored ciphertext was tampered with is
// skipped with an ERROR line naming it, the request is served by the next key, and the admin's
// listing flags the key as unreadable.
func TestUndecryptableKeyFailsOver(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := testkit.NewOpenAI(t, testkit.WithKey("sk-good-key-1", "sk-tampered-1"))
	admin := e.signup("tamper-admin@example.com", pw)
	e.makeAdmin("tamper-admin@example.com")
	var bad, good keyResp
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": "sk-tampered-1", "baseUrl": up.BaseURL(), "priorityOrder": 0}, "Cookie", admin), 201).json(t, &bad)
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": "sk-good-key-1", "baseUrl": up.BaseURL(), "priorityOrder": 1}, "Cookie", admin), 201).json(t, &good)
	keys, err := e.store.ListProviderKeys(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == bad.Key.ID {
			k.Secret = append([]byte(nil), k.Secret...)
			k.Secret[len(k.Secret)-1] ^= 1 // one bit of the ciphertext's tag
			if err := e.store.UpdateProviderKey(t.Context(), k); err != nil {
				t.Fatal(err)
			}
		}
	}
	token, u := e.apiUser("tamper@example.com", polydev.TierFree)
	e.want(e.do("POST", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+token), 200)
	if recs := e.usageOf(u); len(recs) != 1 || recs[0].KeyID != good.Key.ID {
		t.Fatalf("records = %+v, want one on the good key", recs)
	}
	if up.RequestCount() != 1 {
		t.Fatalf("upstream saw %d requests, want 1 (the tampered key never left the server)", up.RequestCount())
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"level":"ERROR","msg":"provider key could not be decrypted; trying the next key"`) || !strings.Contains(logs, bad.Key.ID) {
		t.Fatalf("no ERROR line naming the key:\n%s", logs)
	}
	var list struct {
		Keys []struct {
			ID         string `json:"id"`
			Unreadable bool   `json:"unreadable"`
		} `json:"keys"`
	}
	e.want(e.do("GET", "/api/admin/providers", nil, "Cookie", admin), 200).json(t, &list)
	for _, k := range list.Keys {
		if k.Unreadable != (k.ID == bad.Key.ID) {
			t.Fatalf("key %s unreadable = %v", k.ID, k.Unreadable)
		}
	}

	// With only the tampered key left, the answer is a 503 that says why, never a bare 500.
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "toggle_active", "keyId": good.Key.ID}, "Cookie", admin), 200)
	r := e.want(e.do("POST", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+token), 503)
	if !strings.Contains(string(r.body), "could not be decrypted") {
		t.Fatalf("503 body = %s", r.body)
	}
}
