package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// chatBodies renders the two request bodies a target gets, once.
func chatBodies(model string) [2][]byte {
	base := map[string]any{
		"model":      model,
		"messages":   []map[string]string{{"role": "user", "content": "Say hello."}},
		"max_tokens": 64,
	}
	plain, _ := json.Marshal(base)
	base["stream"] = true
	base["stream_options"] = map[string]bool{"include_usage": true}
	stream, _ := json.Marshal(base)
	return [2][]byte{plain, stream}
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Accept": {"*/*"}}
}

// directTarget calls the fake upstreams themselves.
func directTarget(f *Fake, model, anthModel string) *Target {
	h := jsonHeader()
	h.Set("Authorization", "Bearer "+f.Up.Key)
	return &Target{Name: "direct", URL: f.Up.BaseURL() + "/chat/completions", Header: h, Body: chatBodies(model),
		Msgs: &MsgsReq{URL: f.Anth.BaseURL() + "/v1/messages", Header: messagesHeader("X-Api-Key", f.Anth.Key), Body: messagesBodies(anthModel)}}
}

// ---- Polydev ----

// PolydevOpts says how to run and configure Polydev.
type PolydevOpts struct {
	Bin          string
	Model        string   // model name in requests, provider/model
	AnthModel    string   // model name in /v1/messages requests
	KeyProviders []string // keys to add, each pointing at the fake
	KeyOwner     string   // "platform" (admin platform keys) or "user" (the user's own BYOK keys)
	LogLevel     string
	Tier         string
	// DatabaseURL, when set, runs Polydev on PostgreSQL (POLYDEV_DATABASE_URL); empty: SQLite.
	DatabaseURL string
	// Name is the target's name in the report (default "polydev").
	Name string
}

// startPolydev runs `polydev serve` on a free loopback port with a fresh data directory (and SQLite, or
// the PostgreSQL database of o.DatabaseURL),
// creates an admin with the CLI, logs in, sets the tier's request limits high (in force, but never
// reached: the benchmark measures latency, not rate limiting), creates an API token and adds platform
// keys, with a budget and request limits, for the fake upstream.
// The returned target has Reason set when something along the way failed; proc may be non-nil
// even then (it is running and must be stopped).
func startPolydev(ctx context.Context, o PolydevOpts, f *Fake, tmp string, notes *[]string) (*Target, *Proc) {
	if o.Name == "" {
		o.Name = "polydev"
	}
	t := &Target{Name: o.Name}
	if o.Bin == "" {
		t.Reason = "not built"
		return t, nil
	}
	port, err := freePort()
	if err != nil {
		t.Reason = err.Error()
		return t, nil
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	data := filepath.Join(tmp, o.Name+"-data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Reason = err.Error()
		return t, nil
	}
	env := append(childEnv(tmp),
		"POLYDEV_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"POLYDEV_DATA_DIR="+data,
		"POLYDEV_ALLOW_PRIVATE_UPSTREAMS=127.0.0.0/8", "POLYDEV_PRIVATE_UPSTREAMS_FOR=free,plus,pro,enterprise",
		"POLYDEV_LOG_LEVEL="+o.LogLevel,
		// One account sends every request of the load (512 at once): above the default bound on
		// an account's requests in flight.
		"POLYDEV_USER_REQUESTS_IN_FLIGHT=100000",
	)
	if o.DatabaseURL != "" {
		env = append(env, "POLYDEV_DATABASE_URL="+o.DatabaseURL)
	}
	// Profiling passes through when set, for looking inside a run by hand (the Go runtime knobs
	// do in childEnv).
	if v, ok := os.LookupEnv("POLYDEV_PPROF_ADDR"); ok {
		env = append(env, "POLYDEV_PPROF_ADDR="+v)
	}
	email, password := "bench-admin@example.com", "bench-"+randHex(12)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, o.Bin, "user", "create", "--email", email, "--admin", "--tier", o.Tier)
	cmd.Stdin = strings.NewReader(password + "\n")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Reason = fmt.Sprintf("`polydev user create` failed: %v: %s", err, strings.TrimSpace(string(out)))
		return t, nil
	}
	p, err := startProc(o.Name, []string{o.Bin, "serve"}, env, filepath.Join(tmp, o.Name+".log"))
	if err != nil {
		t.Reason = err.Error()
		return t, nil
	}
	t.PID = p.Cmd.Process.Pid
	if err := waitHTTP(ctx, p, base+"/healthz", http.StatusOK, 60*time.Second); err != nil {
		t.Reason = err.Error()
		return t, p
	}

	api := &apiClient{base: base, c: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}}
	var login struct{}
	resp, err := api.call(ctx, "POST", "/api/account/login", map[string]string{"email": email, "password": password}, &login)
	if err != nil {
		t.Reason = "login: " + err.Error()
		return t, p
	}
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-polydev_session" {
			api.cookie = c.Name + "=" + c.Value
		}
	}
	if api.cookie == "" {
		t.Reason = "login: no __Host-polydev_session cookie in the response"
		return t, p
	}

	if err := raiseTierLimits(ctx, api, o.Tier); err != nil {
		*notes = append(*notes, fmt.Sprintf("Polydev: could not raise the %s tier's request limits (%v); requests beyond them fail and are counted as errors.", o.Tier, err))
	} else {
		*notes = append(*notes, fmt.Sprintf("Polydev: limits stay in force, set high so that load does not turn into 429s: the bench user's tier (%s) allows %d requests per minute and per day (PUT /api/admin/tier-limits), and each key has a $%d monthly budget and a daily and per-minute limit of %d requests; every request is counted against all of them.", o.Tier, benchLimit, benchBudgetDollars, benchLimit))
	}

	var tok struct {
		Token string `json:"token"`
	}
	if _, err := api.call(ctx, "POST", "/api/account/tokens", map[string]string{"name": "gateway bench"}, &tok); err != nil {
		t.Reason = "create API token: " + err.Error()
		return t, p
	}
	if !strings.HasPrefix(tok.Token, "pd_") {
		t.Reason = fmt.Sprintf("create API token: unexpected token %q", truncate(tok.Token, 8))
		return t, p
	}
	addKeys := func(path, owner string) int {
		ok := 0
		for _, prov := range o.KeyProviders {
			up := f.upstream(prov)
			body := map[string]any{
				"provider": prov, "keyName": "bench " + prov, "apiKey": up.Key, "baseUrl": up.BaseURL(),
				"monthlyBudget": benchBudgetDollars, "dailyLimit": benchLimit, "rateLimitRpm": benchLimit,
			}
			if path == "/api/admin/providers" {
				body["action"] = "add_key"
			}
			if _, err := api.call(ctx, "POST", path, body, nil); err != nil {
				*notes = append(*notes, fmt.Sprintf("Polydev: adding a %s key for provider %q failed: %v", owner, prov, err))
			} else {
				ok++
			}
		}
		return ok
	}
	switch o.KeyOwner {
	case "user":
		addKeys("/api/api-keys", "user (BYOK)")
		*notes = append(*notes, "Polydev: the fake's key was added as the bench user's own (BYOK) key for "+strings.Join(o.KeyProviders, ", ")+".")
	default:
		addKeys("/api/admin/providers", "platform")
		// Tiers whose ephemeral mode is on by default (pro) use the user's own keys only; the
		// benchmark measures the platform-key path, so it turns ephemeral mode off.
		if _, err := api.call(ctx, "PUT", "/api/security/settings", map[string]any{"ephemeralMode": false}, nil); err != nil {
			addKeys("/api/api-keys", "user (BYOK)")
			*notes = append(*notes, fmt.Sprintf("Polydev: turning ephemeral mode off failed (%v), so the fake's key was also added as the user's own (BYOK) key; requests use that one.", err))
		} else {
			*notes = append(*notes, fmt.Sprintf("Polydev: requests use platform keys (%s) pointing at the fake; the bench user's ephemeral mode (on by default for the %s tier, and limited to the user's own keys) was turned off with PUT /api/security/settings.", strings.Join(o.KeyProviders, ", "), o.Tier))
		}
	}

	h := jsonHeader()
	h.Set("Authorization", "Bearer "+tok.Token)
	t.URL, t.Header, t.Body = base+"/v1/chat/completions", h, chatBodies(o.Model)
	// As Claude Code sends it with ANTHROPIC_BASE_URL pointing at Polydev and the token as its key.
	t.Msgs = &MsgsReq{URL: base + "/v1/messages", Header: messagesHeader("X-Api-Key", tok.Token), Body: messagesBodies(o.AnthModel)}
	return t, p
}

// Limits the benchmark sets: high enough never to refuse its requests, but in force, so that every
// request is checked and counted as a real one is.
const (
	benchLimit         = 1_000_000_000 // requests per minute and per day (tier and keys)
	benchBudgetDollars = 1_000_000     // each key's monthly budget
)

// raiseTierLimits sets the tier's request limits to benchLimit, keeping its other settings.
func raiseTierLimits(ctx context.Context, api *apiClient, tier string) error {
	var rows struct {
		TierLimits []map[string]any `json:"tierLimits"`
	}
	if _, err := api.call(ctx, "GET", "/api/admin/tier-limits", nil, &rows); err != nil {
		return err
	}
	for _, r := range rows.TierLimits {
		if r["tier"] == tier {
			r["requestsPerMinute"], r["requestsPerDay"] = benchLimit, benchLimit
			delete(r, "updatedAt")
			_, err := api.call(ctx, "PUT", "/api/admin/tier-limits", map[string]any{"tierLimits": []any{r}}, nil)
			return err
		}
	}
	return fmt.Errorf("tier %q not in GET /api/admin/tier-limits", tier)
}

type apiClient struct {
	base   string
	cookie string
	c      *http.Client
}

// call sends a JSON request and decodes a 2xx JSON answer into out (when non-nil).
func (a *apiClient) call(ctx context.Context, method, path string, in, out any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.cookie != "" {
		req.Header.Set("Cookie", a.cookie)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return resp, fmt.Errorf("%s %s: HTTP %d %s", method, path, resp.StatusCode, truncate(string(bytes.TrimSpace(b)), 300))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp, fmt.Errorf("%s %s: %v", method, path, err)
		}
	}
	return resp, nil
}

// ---- Portkey ----

// PortkeyOpts says where the installed peer gateway is.
type PortkeyOpts struct {
	Dir     string // .../node_modules/@portkey-ai/gateway
	Node    string
	Guard   string // the preload that forces loopback and blocks egress
	Version string
}

// startPortkey runs the peer gateway with the guard preloaded, on a free loopback port, and checks
// that it listens on 127.0.0.1 only.
func startPortkey(ctx context.Context, o PortkeyOpts, f *Fake, model, anthModel, tmp string) (*Target, *Proc) {
	t := &Target{Name: "portkey"}
	if o.Dir == "" {
		t.Reason = "not installed"
		return t, nil
	}
	entry := filepath.Join(o.Dir, "build", "start-server.js")
	if _, err := os.Stat(entry); err != nil {
		t.Reason = "not installed: " + err.Error()
		return t, nil
	}
	port, err := freePort()
	if err != nil {
		t.Reason = err.Error()
		return t, nil
	}
	guard, err := filepath.Abs(o.Guard)
	if err != nil {
		t.Reason = err.Error()
		return t, nil
	}
	// A clean environment: in particular no HTTP(S)_PROXY (the gateway honours them) and no cloud
	// credentials. --headless turns the bundled log UI off, as in a server deployment.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "POLYDEV_BENCH_GUARD=1"}
	argv := []string{o.Node, "--import=" + (&url.URL{Scheme: "file", Path: guard}).String(), entry, "--port=" + strconv.Itoa(port), "--headless"}
	p, err := startProc("portkey", argv, env, filepath.Join(tmp, "portkey.log"))
	if err != nil {
		t.Reason = err.Error()
		return t, nil
	}
	t.PID = p.Cmd.Process.Pid
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(ctx, p, base+"/", http.StatusOK, 60*time.Second); err != nil {
		t.Reason = err.Error()
		return t, p
	}
	if addrs := listenAddrs(t.PID, port); len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Reason = fmt.Sprintf("listens on %v, not on 127.0.0.1 only; refusing to benchmark it", addrs)
		return t, p
	}
	h := jsonHeader()
	h.Set("Authorization", "Bearer "+f.Up.Key)
	h.Set("x-portkey-provider", "openai")
	h.Set("x-portkey-custom-host", f.Up.BaseURL())
	t.URL, t.Header, t.Body = base+"/v1/chat/completions", h, chatBodies(model)
	// Portkey's Anthropic provider appends /messages to the custom host.
	mh := messagesHeader("X-Api-Key", f.Anth.Key)
	mh.Set("x-portkey-provider", "anthropic")
	mh.Set("x-portkey-custom-host", f.Anth.BaseURL()+"/v1")
	t.Msgs = &MsgsReq{URL: base + "/v1/messages", Header: mh, Body: messagesBodies(anthModel)}
	return t, p
}

// listenAddrs returns the local addresses of TCP sockets listening on port (from /proc/net/tcp
// and tcp6), as dotted or colon strings.
func listenAddrs(_ int, port int) []string {
	var out []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" { // 0A = LISTEN
				continue
			}
			host, p, ok := strings.Cut(f[1], ":")
			if !ok {
				continue
			}
			if n, _ := strconv.ParseUint(p, 16, 16); int(n) != port {
				continue
			}
			out = append(out, procNetAddr(host))
		}
	}
	return out
}

// procNetAddr decodes /proc/net/tcp's hex address (little-endian 32-bit words).
func procNetAddr(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		return h
	}
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	if len(b) == 4 {
		return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
	}
	if len(b) == 16 {
		if bytes.Equal(b[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}) {
			return fmt.Sprintf("%d.%d.%d.%d", b[12], b[13], b[14], b[15])
		}
		ip := make([]string, 8)
		for i := range ip {
			ip[i] = fmt.Sprintf("%x", int(b[2*i])<<8|int(b[2*i+1]))
		}
		return strings.Join(ip, ":")
	}
	return h
}

// guardReport reads what the guard logged: blocked egress attempts and the listen rewrite.
func guardReport(logPath string) (blocked []string, listens []string) {
	b, _ := os.ReadFile(logPath)
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "[bench-guard]"); i >= 0 {
			msg := strings.TrimSpace(line[i+len("[bench-guard]"):])
			switch {
			case strings.HasPrefix(msg, "blocked"):
				blocked = append(blocked, msg)
			case strings.HasPrefix(msg, "listen"):
				listens = append(listens, msg)
			}
		}
	}
	return blocked, listens
}

// ---- probes ----

// probe sends one non-streaming and one streaming request and checks that the fake's answer came
// back: the text for the first, SSE with the text and [DONE] for the second.
func probe(ctx context.Context, t *Target) string {
	for i, stream := range []bool{false, true} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(t.Body[i]))
		if err != nil {
			return err.Error()
		}
		req.Header = t.Header
		resp, err := t.client.Do(req)
		if err != nil {
			return "probe: " + shortErr(err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		kind := map[bool]string{false: "non-streaming", true: "streaming"}[stream]
		switch {
		case resp.StatusCode == http.StatusNotFound && isPolydev(t.Name):
			return "endpoint not available (404)"
		case resp.StatusCode != http.StatusOK:
			return fmt.Sprintf("%s probe: HTTP %d %s", kind, resp.StatusCode, truncate(string(bytes.TrimSpace(b)), 300))
		case !bytes.Contains(b, []byte("Hello")):
			return fmt.Sprintf("%s probe: the answer does not carry the upstream's text: %s", kind, truncate(string(b), 300))
		case stream && (!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || !bytes.Contains(b, []byte("[DONE]"))):
			return fmt.Sprintf("streaming probe: not an SSE stream ending in [DONE] (Content-Type %q): %s", resp.Header.Get("Content-Type"), truncate(string(b), 300))
		}
	}
	return ""
}

// probeMessages sends one request of each Messages kind and checks that the fake's answer came back
// (the text; for the stream, SSE ending in message_stop).
func probeMessages(ctx context.Context, t *Target) string {
	for _, k := range []Kind{Messages, MessagesStream} {
		u, h, body := t.request(k)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return err.Error()
		}
		req.Header = h
		resp, err := t.client.Do(req)
		if err != nil {
			return "probe: " + shortErr(err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode != http.StatusOK:
			return fmt.Sprintf("%s probe: HTTP %d %s", k.Label(), resp.StatusCode, truncate(string(bytes.TrimSpace(b)), 300))
		case !bytes.Contains(b, []byte("Hello")):
			return fmt.Sprintf("%s probe: the answer does not carry the upstream's text: %s", k.Label(), truncate(string(b), 300))
		case k.Stream() && !bytes.Contains(b, []byte("message_stop")):
			return fmt.Sprintf("%s probe: not an SSE stream ending in message_stop: %s", k.Label(), truncate(string(b), 300))
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
