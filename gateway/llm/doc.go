// Package llm is the gateway's canonical, provider-neutral model of a chat generation: the Request
// an inbound codec parses a client body into, the Response and the stream of Events a provider
// adapter produces, the Usage that accounting bills, and the one upstream Error type a router
// inspects to fail over.
//
// Inbound codecs (gateway/inbound/...) translate client wire formats to and from these types;
// provider adapters (gateway/provider/...) translate them to and from upstream wire formats. This
// package imports no codec and no adapter, does no I/O and holds no credentials.
//
// Translation is lossy only where the formats differ in what they can express; the losses are
// listed on the fields and in gateway/README.md.
package llm
