// Package testkit owns the fake LLM upstreams Polydev's tests talk to in
// place of the real providers, and the recorded wire payloads they are
// checked against.
//
// NewOpenAI, NewAnthropic and NewGemini each start an httptest server on
// 127.0.0.1 that speaks the provider's documented wire format byte for byte:
// the same auth header, the same JSON bodies and SSE framing, the same error
// shapes. A Script says what to answer (text in N deltas, tool calls
// streamed in fragments, usage, stop reason, an HTTP error, an error event
// or malformed bytes mid-stream); options add latency, a queue of scripts,
// per-key scripts and a hook for clients that disconnect. Every request is
// recorded for assertions.
//
// Scripts are rendered into bytes once, when set, so serving a request is a
// body read, a small JSON decode and a few writes: the fakes stand in for
// providers in benchmarks at hundreds of concurrent streams without being
// the bottleneck. Nothing on that path takes a lock shared by requests
// unless a script queue is in use.
//
// testdata/{openai,anthropic,gemini}/ holds the canonical payloads (see
// Payload); golden tests keep the fakes and the files identical. Run
// `go test ./internal/testkit -run Golden -update` after a deliberate
// format change, and review the diff against the providers' docs.
//
// NewSMTP starts a small SMTP server on 127.0.0.1 (net/textproto, the commands a client needs to
// deliver one message, AUTH PLAIN) that records every message it accepts, so tests read the mail
// Polydev sends and follow its links.
//
// This package is for tests only. It must not be imported by production
// code, and it knows nothing of Polydev's own types: it speaks only the
// providers' formats (and SMTP's).
package testkit
