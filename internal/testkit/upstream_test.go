package testkit

import (
	"fmt"
	"sync"
	"testing"
)

func TestQueueThenKeyScriptThenDefault(t *testing.T) {
	t.Parallel()
	u := NewOpenAI(t,
		WithScript(Script{Text: "default"}),
		WithKeyScript("sk-limited", ErrorScript(429)),
		WithQueue(Script{Text: "first"}),
	)
	u.Enqueue(Script{Text: "second"})
	if u.Pending() != 2 {
		t.Fatalf("Pending = %d", u.Pending())
	}
	text := func(key string) (int, string) {
		req := generation(OpenAI, false)
		req.key = keyOf(key)
		status, _, body := req.do(t, u)
		if status != 200 {
			return status, ""
		}
		return status, decodeBody(t, OpenAI, body).Text
	}
	for i, want := range []struct {
		key    string
		status int
		text   string
	}{
		{"sk-limited", 200, "first"}, // the queue comes before the key's script
		{u.Key, 200, "second"},
		{"sk-limited", 429, ""},
		{u.Key, 200, "default"},
		{"sk-other", 401, ""},
	} {
		status, got := text(want.key)
		if status != want.status || got != want.text {
			t.Errorf("request %d: %d %q, want %d %q", i, status, got, want.status, want.text)
		}
	}
	if u.Pending() != 0 {
		t.Errorf("Pending = %d after use", u.Pending())
	}
	u.SetScript(Script{Text: "changed"})
	if _, got := text(u.Key); got != "changed" {
		t.Errorf("after SetScript: %q", got)
	}
}

// TestRecordingIsConcurrencySafe hammers one fake from many goroutines and
// checks every request was recorded once, intact.
func TestRecordingIsConcurrencySafe(t *testing.T) {
	t.Parallel()
	for _, c := range constructors {
		t.Run(string(c.p), func(t *testing.T) {
			t.Parallel()
			u := c.new(t)
			const workers, each = 16, 8
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						req := generation(c.p, i%2 == 0)
						req.header = map[string]string{"X-Worker": fmt.Sprintf("%d-%d", w, i)}
						if status, _, body := req.do(t, u); status != 200 {
							t.Errorf("status %d: %s", status, body)
						}
					}
				})
			}
			wg.Wait()
			reqs := u.Requests()
			if len(reqs) != workers*each || u.RequestCount() != workers*each {
				t.Fatalf("recorded %d, counted %d, want %d", len(reqs), u.RequestCount(), workers*each)
			}
			seen := map[string]bool{}
			for i, r := range reqs {
				if r.Seq != int64(i+1) {
					t.Errorf("request %d has Seq %d", i, r.Seq)
				}
				seen[r.Header.Get("X-Worker")] = true
				if r.Key != u.Key || r.Method != "POST" || r.Model() == "" || len(r.Body) == 0 {
					t.Errorf("request %d: %+v", i, r)
				}
			}
			if len(seen) != workers*each {
				t.Errorf("%d distinct requests recorded", len(seen))
			}
		})
	}
}

func TestRequestAccessors(t *testing.T) {
	t.Parallel()
	want := map[Provider]string{OpenAI: "gpt-4o-mini", Anthropic: "claude-sonnet-4-5", Gemini: "gemini-2.5-flash"}
	for _, c := range constructors {
		u := c.new(t)
		for _, stream := range []bool{false, true} {
			generation(c.p, stream).do(t, u)
			r := u.LastRequest()
			if r.Model() != want[c.p] || r.Stream() != stream || r.Provider != c.p {
				t.Errorf("%s stream=%v: Model=%q Stream=%v", c.p, stream, r.Model(), r.Stream())
			}
		}
	}
}

func TestWithoutRecording(t *testing.T) {
	t.Parallel()
	u := NewGemini(t, WithoutRecording())
	for range 3 {
		if _, _, body := generation(Gemini, true).do(t, u); decodeStream(t, Gemini, body).Text != DefaultText {
			t.Fatal("wrong output")
		}
	}
	if len(u.Requests()) != 0 || u.RequestCount() != 3 {
		t.Errorf("recorded %d, counted %d", len(u.Requests()), u.RequestCount())
	}
}

func TestInvalidScriptFailsTheTest(t *testing.T) {
	t.Parallel()
	for _, s := range []Script{
		{ToolCalls: []ToolCall{{Name: "f", Arguments: "[1,2]"}}},
		{ToolCalls: []ToolCall{{Name: "f", Arguments: "{"}}},
		{ToolCalls: []ToolCall{{Arguments: "{}"}}},
	} {
		for _, d := range []dialect{openaiDialect{}, anthropicDialect{}, geminiDialect{}} {
			if _, err := d.render(s); err == nil {
				t.Errorf("%s accepted %+v", d.provider(), s.ToolCalls)
			}
		}
	}
}

func TestSplitRunes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		s    string
		n    int
		want []string
	}{
		{"abcdef", 3, []string{"ab", "cd", "ef"}},
		{"abcde", 2, []string{"abc", "de"}},
		{"ab", 5, []string{"a", "b"}},
		{"", 3, nil},
		{"世界🌍!", 2, []string{"世界", "🌍!"}},
	}
	for _, tc := range cases {
		got := splitRunes(tc.s, tc.n)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("splitRunes(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
