package testkit

import "time"

// Option configures a fake upstream.
type Option func(*config)

type config struct {
	keys         []string
	anyKey       bool
	script       *Script
	queue        []Script
	keyScripts   map[string]Script
	keyOrder     []string // keyScripts' keys in the order given, for u.Key
	firstByte    time.Duration
	jitter       time.Duration
	tokenDelay   time.Duration
	onDisconnect func(Disconnect)
	onRequest    func(Request)
	noRecord     bool
	models       []string
}

// WithKey sets the API keys the fake accepts (replacing the provider's
// default key). The first becomes Upstream.Key. Any other key gets the
// provider's exact invalid-key error.
func WithKey(keys ...string) Option {
	return func(c *config) { c.keys = append([]string(nil), keys...) }
}

// WithAnyKey turns the key check off: requests with any key, or none, are
// served (like a local OpenAI-compatible server).
func WithAnyKey() Option {
	return func(c *config) { c.anyKey = true }
}

// WithScript sets the script used when no queued or per-key script applies.
// Without it the fake answers DefaultScript.
func WithScript(s Script) Option {
	return func(c *config) { c.script = &s }
}

// WithQueue queues scripts that answer the next generation requests in
// order, one each, before the per-key and default scripts apply again.
func WithQueue(scripts ...Script) Option {
	return func(c *config) { c.queue = append(c.queue, scripts...) }
}

// WithKeyScript answers every request made with key by s (unless a queued
// script comes first); key is accepted in addition to the others. Useful for
// failover tests: one key that always returns 429, another that works.
func WithKeyScript(key string, s Script) Option {
	return func(c *config) {
		if c.keyScripts == nil {
			c.keyScripts = map[string]Script{}
		}
		if _, seen := c.keyScripts[key]; !seen {
			c.keyOrder = append(c.keyOrder, key)
		}
		c.keyScripts[key] = s
	}
}

// WithFirstByteLatency delays the response headers (and a non-streaming
// body) by d.
func WithFirstByteLatency(d time.Duration) Option {
	return func(c *config) { c.firstByte = d }
}

// WithFirstByteJitter adds a uniformly random extra delay in [0, j) to each
// response's first-byte latency, so that concurrent clients do not fall into
// lockstep as they do behind a constant delay (a real model's latency varies).
func WithFirstByteJitter(j time.Duration) Option {
	return func(c *config) { c.jitter = j }
}

// WithTokenDelay waits d before each streamed content delta; a
// non-streaming response waits d per delta it stands for.
func WithTokenDelay(d time.Duration) Option {
	return func(c *config) { c.tokenDelay = d }
}

// WithOnDisconnect calls fn, on the handler's goroutine, whenever a client
// goes away (its request context is cancelled or a write fails) before the
// response was complete. It is not called for responses cut by Close.
func WithOnDisconnect(fn func(Disconnect)) Option {
	return func(c *config) { c.onDisconnect = fn }
}

// WithOnRequest calls fn, on the handler's goroutine, as each request
// arrives (after it is recorded, before the key is checked): a signal for
// tests that must act while the fake is still answering, such as cancelling
// during WithFirstByteLatency. Under WithoutRecording, fn gets no Header and
// no Body.
func WithOnRequest(fn func(Request)) Option {
	return func(c *config) { c.onRequest = fn }
}

// WithoutRecording stops the fake from keeping requests: for benchmarks,
// where thousands of kept bodies would only cost memory. Requests then
// returns nothing, but RequestCount still counts.
func WithoutRecording() Option {
	return func(c *config) { c.noRecord = true }
}

// WithModels sets the model ids the fake's model-list endpoint returns.
func WithModels(ids ...string) Option {
	return func(c *config) { c.models = append([]string(nil), ids...) }
}

// Disconnect describes a response the client abandoned.
type Disconnect struct {
	Seq        int64  // the request's Request.Seq
	Path       string // the request's URL path
	Stream     bool   // whether a stream was being served
	DeltasSent int    // content deltas written and flushed before the client left
	Err        error  // the request context's cause, or the write error
}
