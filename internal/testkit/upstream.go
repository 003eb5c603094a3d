package testkit

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// Provider names an upstream API family.
type Provider string

// The providers the fakes speak.
const (
	OpenAI    Provider = "openai"
	Anthropic Provider = "anthropic"
	Gemini    Provider = "gemini"
)

// Default keys the fakes accept unless WithKey says otherwise.
const (
	DefaultOpenAIKey    = "sk-testkit-openai-0000000000000000"
	DefaultAnthropicKey = "sk-ant-testkit-anthropic-000000000"
	DefaultGeminiKey    = "AIzaTestkitGemini000000000000000000"
)

// dialect is what differs between the providers: where the key travels,
// how errors look, how a script renders, and which paths exist.
type dialect interface {
	provider() Provider
	defaultKey() string
	// credential extracts the key the client presented.
	credential(r *http.Request) (key string, present bool)
	// rejectKey renders the provider's answer to a missing or wrong key.
	rejectKey(key string, present bool) *reply
	// render turns a script into the provider's wire format.
	render(s Script) (*reply, error)
	// routes registers the provider's endpoints on mux.
	routes(u *Upstream, mux *http.ServeMux)
}

// Upstream is a fake provider API served on 127.0.0.1. It is safe for
// concurrent use; scripts may be changed while requests are in flight.
type Upstream struct {
	Provider Provider
	// URL is the server's root, e.g. http://127.0.0.1:40123. Paths are the
	// provider's own: /v1/chat/completions, /v1/messages,
	// /v1beta/models/{model}:generateContent.
	URL string
	// Key is an API key the fake accepts.
	Key string

	tb  testing.TB
	d   dialect
	cfg config
	// holding counts streams waiting at a Script.HoldLast.
	holding atomic.Int64
	srv     *httptest.Server

	keys      map[string]bool
	keyReply  map[string]*reply // read-only after construction
	def       atomic.Pointer[reply]
	queued    atomic.Int64 // len(queue), read without the lock on the hot path
	queueMu   sync.Mutex
	queue     []*reply
	seq       atomic.Int64
	log       atomic.Pointer[logNode] // newest first; lock-free push
	done      chan struct{}
	closeOnce sync.Once
	bufs      sync.Pool
}

// NewOpenAI starts a fake OpenAI API (Chat Completions and Models) and
// closes it when the test ends.
func NewOpenAI(t testing.TB, opts ...Option) *Upstream {
	t.Helper()
	return newUpstream(t, openaiDialect{}, opts)
}

// NewAnthropic starts a fake Anthropic API (Messages and Models) and closes
// it when the test ends.
func NewAnthropic(t testing.TB, opts ...Option) *Upstream {
	t.Helper()
	return newUpstream(t, anthropicDialect{}, opts)
}

// NewGemini starts a fake Gemini API (generateContent, streamGenerateContent
// and models) and closes it when the test ends.
func NewGemini(t testing.TB, opts ...Option) *Upstream {
	t.Helper()
	return newUpstream(t, geminiDialect{}, opts)
}

func newUpstream(t testing.TB, d dialect, opts []Option) *Upstream {
	t.Helper()
	u := &Upstream{Provider: d.provider(), tb: t, d: d, done: make(chan struct{})}
	u.cfg.keys = []string{d.defaultKey()}
	for _, o := range opts {
		o(&u.cfg)
	}
	u.bufs.New = func() any { return new(bytes.Buffer) }

	u.keys = map[string]bool{}
	for _, k := range u.cfg.keys {
		u.keys[k] = true
	}
	u.keyReply = map[string]*reply{}
	for _, k := range u.cfg.keyOrder {
		u.keys[k] = true
		u.keyReply[k] = u.mustRender(u.cfg.keyScripts[k])
	}
	switch {
	case len(u.cfg.keys) > 0:
		u.Key = u.cfg.keys[0]
	case len(u.cfg.keyOrder) > 0:
		u.Key = u.cfg.keyOrder[0]
	}
	def := DefaultScript()
	if u.cfg.script != nil {
		def = *u.cfg.script
	}
	u.SetScript(def)
	u.Enqueue(u.cfg.queue...)

	mux := http.NewServeMux()
	d.routes(u, mux)
	u.srv = httptest.NewServer(mux)
	u.URL = u.srv.URL
	t.Cleanup(u.Close)
	return u
}

// SetScript replaces the default script.
func (u *Upstream) SetScript(s Script) {
	u.tb.Helper()
	u.def.Store(u.mustRender(s))
}

// Enqueue queues scripts that answer the next generation requests, in
// order, one request each.
func (u *Upstream) Enqueue(scripts ...Script) {
	u.tb.Helper()
	replies := make([]*reply, len(scripts))
	for i, s := range scripts {
		replies[i] = u.mustRender(s)
	}
	u.queueMu.Lock()
	u.queue = append(u.queue, replies...)
	u.queued.Store(int64(len(u.queue)))
	u.queueMu.Unlock()
}

// Pending returns how many queued scripts are still unused.
func (u *Upstream) Pending() int { return int(u.queued.Load()) }

func (u *Upstream) mustRender(s Script) *reply {
	u.tb.Helper()
	rep, err := u.d.render(s)
	if err != nil {
		u.tb.Fatalf("testkit: %s script: %v", u.Provider, err)
	}
	return rep
}

// next picks the reply for a generation request: the queue first, then the
// key's own script, then the default. Without a queue this takes no lock.
func (u *Upstream) next(key string) *reply {
	if u.queued.Load() > 0 {
		u.queueMu.Lock()
		if len(u.queue) > 0 {
			rep := u.queue[0]
			u.queue[0] = nil
			u.queue = u.queue[1:]
			u.queued.Store(int64(len(u.queue)))
			u.queueMu.Unlock()
			return rep
		}
		u.queueMu.Unlock()
	}
	if rep, ok := u.keyReply[key]; ok {
		return rep
	}
	return u.def.Load()
}

// Client returns an HTTP client configured for the fake (plain HTTP to
// 127.0.0.1; its connections are closed with the fake).
func (u *Upstream) Client() *http.Client { return u.srv.Client() }

// BaseURL is the URL the provider's SDKs take as their base: URL+"/v1" for
// OpenAI, URL for Anthropic and Gemini.
func (u *Upstream) BaseURL() string {
	if u.Provider == OpenAI {
		return u.URL + "/v1"
	}
	return u.URL
}

// Close stops the server. Streams still being served are cut (without
// firing the disconnect hook). Close is idempotent and runs at test cleanup.
func (u *Upstream) Close() {
	u.closeOnce.Do(func() {
		close(u.done)
		u.srv.CloseClientConnections()
		u.srv.Close()
	})
}

func (u *Upstream) closed() bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}

// inbound is one request being handled.
type inbound struct {
	seq        int64
	path       string
	ctx        context.Context
	body       []byte
	key        string
	keyPresent bool
	buf        *bytes.Buffer // pooled body buffer when not recording
}

// begin reads and records a request. Every handler starts with it, so every
// request that reaches the fake is recorded, whatever its path.
func (u *Upstream) begin(r *http.Request) *inbound {
	rq := &inbound{seq: u.seq.Add(1), path: r.URL.Path, ctx: r.Context()}
	rq.key, rq.keyPresent = u.d.credential(r)
	req := Request{Seq: rq.seq, Provider: u.Provider, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Key: rq.key}
	if u.cfg.noRecord {
		rq.buf = u.bufs.Get().(*bytes.Buffer)
		rq.buf.Reset()
		_, _ = rq.buf.ReadFrom(r.Body)
		rq.body = rq.buf.Bytes()
	} else {
		rq.body, _ = io.ReadAll(r.Body)
		req.Header, req.Body = r.Header.Clone(), rq.body
		u.record(req)
	}
	if u.cfg.onRequest != nil {
		u.cfg.onRequest(req)
	}
	return rq
}

// end releases what begin took.
func (u *Upstream) end(rq *inbound) {
	if rq.buf != nil && rq.buf.Cap() <= 1<<20 {
		u.bufs.Put(rq.buf)
	}
}

// authorized reports whether the request presented an accepted key.
func (u *Upstream) authorized(rq *inbound) bool {
	return u.cfg.anyKey || (rq.keyPresent && u.keys[rq.key])
}

// write sends a reply's non-streaming form at once (errors, model lists).
func write(w http.ResponseWriter, rep *reply) {
	copyHeader(w.Header(), rep.header)
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// logNode is an entry of the lock-free request log.
type logNode struct {
	req  Request
	next *logNode
}

func (u *Upstream) record(req Request) {
	n := &logNode{req: req}
	for {
		head := u.log.Load()
		n.next = head
		if u.log.CompareAndSwap(head, n) {
			return
		}
	}
}

// Requests returns the requests received so far, in arrival order. The
// returned headers and bodies are shared with the fake: do not modify them.
func (u *Upstream) Requests() []Request {
	var out []Request
	for n := u.log.Load(); n != nil; n = n.next {
		out = append(out, n.req)
	}
	slices.SortFunc(out, func(a, b Request) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// LastRequest returns the most recent request, failing the test if none
// was received.
func (u *Upstream) LastRequest() Request {
	u.tb.Helper()
	var last *logNode
	for n := u.log.Load(); n != nil; n = n.next {
		if last == nil || n.req.Seq > last.req.Seq {
			last = n
		}
	}
	if last == nil {
		u.tb.Fatalf("testkit: %s upstream received no request", u.Provider)
		return Request{}
	}
	return last.req
}

// RequestCount returns how many requests arrived, recorded or not.
func (u *Upstream) RequestCount() int { return int(u.seq.Load()) }

// Holding reports how many streams are waiting at their Script.HoldLast right now.
func (u *Upstream) Holding() int { return int(u.holding.Load()) }
