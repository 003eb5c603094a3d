package crosstest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/anthropic"
	"github.com/polydev/polydev/gateway/provider/gemini"
	"github.com/polydev/polydev/gateway/provider/openai"
	"github.com/polydev/polydev/internal/testkit"
)

// chunkedBody hands out a recorded body a few bytes per Read, logging each read.
type chunkedBody struct {
	rd  *bytes.Reader
	n   int
	log *[]string
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	*c.log = append(*c.log, "read")
	return c.rd.Read(p[:min(len(p), c.n)])
}
func (c *chunkedBody) Close() error { return nil }

// TestStreamNotifiesBeforeReads: every adapter's stream says it is about to wait before each read
// of the upstream body (what lets a relay hold its output in between), and the events are the
// same with the notice as without it.
func TestStreamNotifiesBeforeReads(t *testing.T) {
	t.Parallel()
	script := testkit.Script{Text: strings.Repeat("token ", 30), Usage: testkit.DefaultUsage}
	decoders := []struct {
		name   string
		p      testkit.Provider
		decode func(io.ReadCloser) llm.Stream
	}{
		{"openai", testkit.OpenAI, func(r io.ReadCloser) llm.Stream { return openai.DecodeStream(context.Background(), r, 100) }},
		{"anthropic", testkit.Anthropic, func(r io.ReadCloser) llm.Stream { return anthropic.DecodeStream(context.Background(), r, 100) }},
		{"gemini", testkit.Gemini, func(r io.ReadCloser) llm.Stream { return gemini.DecodeStream(context.Background(), r, 100) }},
	}
	for _, d := range decoders {
		t.Run(d.name, func(t *testing.T) {
			body := recordStream(t, d.p, script)
			drain := func(s llm.Stream) []llm.Event {
				var evs []llm.Event
				for {
					ev, err := s.Next()
					if err == io.EOF {
						return evs
					}
					if err != nil {
						t.Fatal(err)
					}
					evs = append(evs, ev)
				}
			}
			var log []string
			s := d.decode(&chunkedBody{rd: bytes.NewReader(body), n: 97, log: &log})
			wn, ok := s.(llm.WaitNotifier)
			if !ok {
				t.Fatal("the stream is not an llm.WaitNotifier")
			}
			wn.NotifyWait(func() { log = append(log, "wait") })
			got := drain(s)
			reads := 0
			for i, e := range log {
				if e == "read" {
					reads++
					if i == 0 || log[i-1] != "wait" {
						t.Fatalf("read %d without a notice first: %v", reads, log)
					}
				}
			}
			if reads < len(body)/97 {
				t.Fatalf("%d reads of a %d-byte body", reads, len(body))
			}
			var none []string
			want := drain(d.decode(&chunkedBody{rd: bytes.NewReader(body), n: 97, log: &none}))
			if len(got) != len(want) || len(got) < 30 {
				t.Fatalf("%d events with the notice, %d without", len(got), len(want))
			}
		})
	}
}
