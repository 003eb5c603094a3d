// Package passthrough forwards a request whose inbound shape is the upstream's own wire format
// (Anthropic Messages to Anthropic, OpenAI Chat to OpenAI, ...) without translating it: Peek reads
// the few top-level members the gateway needs (model, stream, the output cap) with a structural
// scan, WithModel splices the resolved upstream model into the body leaving every other byte as
// the client wrote it, and Relay copies the upstream's answer to the client byte for byte (SSE
// events or one JSON body) while a provider.Meter reads the usage from it.
//
// It knows no wire format itself (adapters implement provider.Passthrough and provider.Meter),
// chooses no key and stores nothing: gateway/router's Call.Raw does admission, key choice,
// reservation and failover, and the Complete hook given to Relay makes the usage record durable
// before the bytes that complete the answer reach the client.
package passthrough
