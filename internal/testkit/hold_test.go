package testkit

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHoldLast: a stream stops before its last content delta until the script's channel is closed.
func TestHoldLast(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := NewOpenAI(t, WithScript(Script{Text: "alpha beta gamma", HoldLast: release}))
	req, err := http.NewRequestWithContext(t.Context(), "POST", up.BaseURL()+"/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+up.Key)
	req.Header.Set("Content-Type", "application/json")
	res, err := up.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	got := ""
	for !strings.Contains(got, "beta") && sc.Scan() {
		got += sc.Text() + "\n"
	}
	if !strings.Contains(got, "alpha") || !strings.Contains(got, "beta") || strings.Contains(got, "gamma") {
		t.Fatalf("before the release: want the deltas before the last, got:\n%s", got)
	}
	for up.Holding() != 1 { // the stream is at its hold: nothing of the last delta can have left
		time.Sleep(time.Millisecond)
	}
	close(release)
	rest := ""
	for sc.Scan() {
		rest += sc.Text() + "\n"
	}
	if !strings.Contains(rest, "gamma") || !strings.Contains(rest, "[DONE]") {
		t.Fatalf("after the release: want the last delta and the end, got:\n%s", rest)
	}
}
