// Package crosstest holds only tests: every inbound shape (OpenAI, Anthropic) against every
// provider adapter (OpenAI, Anthropic, Gemini), end to end over HTTP, with the testkit fakes as
// upstreams and a minimal handler standing in for the router that is not built yet. It checks that
// what a client receives — text, tool calls, stop reason, usage, errors — equals what the fake
// upstream was scripted to send, and holds the stream translation benchmarks.
package crosstest
