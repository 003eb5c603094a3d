package web

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestPassthroughPooledBodies: passthrough request bodies are read into reused buffers; many
// concurrent requests, streamed and not, each with its own prompt, each reach the upstream
// exactly as sent (a buffer reused while a transport still sent it would mix two prompts).
func TestPassthroughPooledBodies(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := e.platformFakes()[1].up
	token, _ := e.apiUser("pool@example.com", polydev.TierFree)
	up.SetScript(testkit.Script{Text: "ok", Chunks: 2, Usage: testkit.Usage{PromptTokens: 9000, CompletionTokens: 2}})

	const workers, each = 6, 8
	body := func(w, i int) (sent, upstream string) {
		// Bodies of different sizes, so that buffers of one size serve bodies of another.
		text := strings.Repeat(fmt.Sprintf("prompt %d.%d ", w, i), 400+300*((w+i)%4))
		stream := ""
		if i%2 == 1 {
			stream = `"stream":true,`
		}
		sent = fmt.Sprintf(`{"model":"anthropic/claude-haiku-4-5",%s"max_tokens":10,"messages":[{"role":"user","content":%q}]}`, stream, text)
		return sent, strings.Replace(sent, `"anthropic/claude-haiku-4-5"`, `"claude-haiku-4-5"`, 1)
	}
	want := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		for i := range each {
			_, u := body(w, i)
			want[u] = true
		}
		wg.Go(func() {
			for i := range each {
				sent, _ := body(w, i)
				req, err := http.NewRequestWithContext(t.Context(), "POST", e.ts.URL+"/v1/messages", strings.NewReader(sent))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("x-api-key", token)
				res, err := e.ts.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("status %d: %s", res.StatusCode, b)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := up.Requests()
	if len(got) != workers*each {
		t.Fatalf("upstream got %d requests, want %d", len(got), workers*each)
	}
	for _, r := range got {
		if !want[string(r.Body)] {
			t.Fatalf("upstream got a body that no client sent: %.200s", r.Body)
		}
		delete(want, string(r.Body))
	}
}
