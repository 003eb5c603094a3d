package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/polydev/polydev/internal/rfb"
	"github.com/polydev/polydev/internal/testkit"
)

// The viewer benchmark (-frames N): what a user waits for, through the real binary and its API.
// It starts `polydev serve` with VM support (QEMU TCG, user networking, a warm pool of one), signs
// in, and times "start a login session → first non-blank frame in the viewer": POST
// /api/auth/session (or, with -route vms, POST /api/vms and a viewer ticket), the noVNC WebSocket
// through Polydev's proxy, and an RFB framebuffer update that is not a single colour (the test
// TestVMEndToEnd uses), asked for in the Zlib encoding as a viewer asks for a compressed one (-raw:
// Raw). The first measurement is taken right after the server listens (the first session after a
// start: with a saved golden snapshot in -data it is restored, without one the golden VM boots
// first); the next N each start with the warm pool full.

const (
	benchEmail    = "bench-vm@example.com"
	benchPassword = "bench-vm-password-1"
)

type frameReport struct {
	host, hostAfter string
	command         string
	firstAfterStart time.Duration // listening → first frame of the first VM
	firstCreate     time.Duration // create → first frame of the first VM
	startToListen   time.Duration
	goldenReused    bool
	warm            []time.Duration
	warmWaits       []time.Duration // how long each round waited for the pool to refill
	enc             rfb.Encoding
	route           string
}

func encName(e rfb.Encoding) string {
	if e == rfb.Zlib {
		return "Zlib"
	}
	return "Raw"
}

func runFrames(o options) error {
	ctx := context.Background()
	bin := o.polydev
	if bin == "" {
		dir, err := os.MkdirTemp("", "pdbench-bin")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "polydev")
		fmt.Fprintln(os.Stderr, "building polydev ...")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/polydev").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/polydev: %v\n%s", err, out)
		}
	}
	data := o.data
	if data == "" {
		// Short: the VMs' QMP sockets live under it and a unix socket path is at most 107 bytes.
		dir, err := os.MkdirTemp("/tmp", "pdbf")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		data = dir
	}
	env := append(os.Environ(), "POLYDEV_DATA_DIR="+data, "POLYDEV_ADDR=127.0.0.1:0", "POLYDEV_LOG_FORMAT=json",
		"POLYDEV_VM_DRIVER=qemu", "POLYDEV_VM_NET=user", "POLYDEV_VM_ACCEL=tcg", "POLYDEV_VM_WARM=1",
		"POLYDEV_VM_IMAGE="+o.image, "POLYDEV_VM_GOLDEN_SETTLE="+o.goldenSettle.String(),
		"POLYDEV_VM_BOOT_TIMEOUT="+o.timeout.String(), "POLYDEV_VM_REBUILD=0")
	if err := createUser(bin, env); err != nil {
		return err
	}
	r := &frameReport{host: hostInfo(), command: strings.Join(os.Args, " "), route: o.route}
	if !o.raw {
		r.enc = rfb.Zlib
	}
	srv, err := startServer(bin, env, filepath.Join(data, "bench-serve.log"))
	if err != nil {
		return err
	}
	defer srv.stop()
	r.startToListen = srv.listening.Sub(srv.started)
	c := &apiClient{base: srv.base, enc: rfb.Zlib, route: o.route, target: o.target}
	if o.raw {
		c.enc = rfb.Raw
	}
	if err := c.login(ctx); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "first session after start ...")
	asked := time.Now()
	// Without a saved snapshot the first VM waits for the golden VM's boot, settling and snapshot.
	d, err := c.createToFrame(ctx, 2*o.timeout+o.goldenSettle)
	if err != nil {
		return fmt.Errorf("first session: %w (server log: %s)", err, srv.logPath)
	}
	r.firstCreate, r.firstAfterStart = d, asked.Sub(srv.listening)+d
	r.goldenReused = srv.logHas(`"msg":"golden snapshot reused"`)
	for i := range o.frames {
		began := time.Now()
		if err := c.waitWarm(ctx, o.timeout); err != nil {
			return err
		}
		r.warmWaits = append(r.warmWaits, time.Since(began))
		d, err := c.createToFrame(ctx, o.timeout)
		if err != nil {
			return fmt.Errorf("round %d: %w (server log: %s)", i+1, err, srv.logPath)
		}
		fmt.Fprintf(os.Stderr, "round %d: %v\n", i+1, d.Round(time.Millisecond))
		r.warm = append(r.warm, d)
	}
	r.hostAfter = hostInfo()
	out := o.out
	if out == "" {
		out = filepath.Join("bench", "vm", "results", "frames-"+time.Now().UTC().Format("20060102-150405")+".md")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	md := r.markdown()
	fmt.Print(md)
	return os.WriteFile(out, []byte(md), 0o644)
}

// createUser makes the bench's account with the CLI; an account left in a reused -data is kept.
func createUser(bin string, env []string) error {
	cmd := exec.Command(bin, "user", "create", "--email", benchEmail, "--tier", "enterprise")
	cmd.Env, cmd.Stdin = env, strings.NewReader(benchPassword+"\n")
	out, err := cmd.CombinedOutput()
	if err != nil && !bytes.Contains(bytes.ToLower(out), []byte("exists")) {
		return fmt.Errorf("user create: %v\n%s", err, out)
	}
	return nil
}

type server struct {
	cmd                *exec.Cmd
	logPath            string
	base               string
	started, listening time.Time
	done               chan struct{}
}

// startServer runs `polydev serve`, its log in logPath, and waits for its "listening" line.
func startServer(bin string, env []string, logPath string) (*server, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600) // runs over one -data add up
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	s := &server{cmd: exec.Command(bin, "serve"), logPath: logPath, done: make(chan struct{})}
	s.cmd.Env, s.cmd.Stderr = env, io.MultiWriter(logf, pw)
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); pw.Close(); logf.Close(); close(s.done) }()
	addr := testkit.ListenAddr(pr)
	select {
	case a := <-addr:
		s.listening, s.base = time.Now(), "http://"+a
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("polydev serve exited before listening; log: %s", logPath)
	case <-time.After(2 * time.Minute):
		s.stop()
		return nil, fmt.Errorf("polydev serve did not listen within 2 min; log: %s", logPath)
	}
}

// stop ends the server gracefully (SIGTERM: it stops its VMs), killing it after a minute.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) logHas(needle string) bool {
	b, _ := os.ReadFile(s.logPath)
	return bytes.Contains(b, []byte(needle))
}

type apiClient struct {
	base   string
	cookie string
	enc    rfb.Encoding
	route  string // "session" (POST /api/auth/session) or "vms" (POST /api/vms)
	target string // the session's targetUrl
}

func (c *apiClient) do(ctx context.Context, method, path, body string) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	req.Header.Set("Origin", c.base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

func (c *apiClient) login(ctx context.Context) error {
	code, body, h, err := c.do(ctx, "POST", "/api/account/login", fmt.Sprintf(`{"email":%q,"password":%q}`, benchEmail, benchPassword))
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("login: %d %s %v", code, body, err)
	}
	for _, sc := range h.Values("Set-Cookie") {
		if name, _, _ := strings.Cut(sc, ";"); strings.Contains(name, "=") {
			c.cookie = name
			return nil
		}
	}
	return errors.New("login set no cookie")
}

// createToFrame starts a login session (or, with -route vms, creates a browser VM) and returns how
// long it took until the viewer showed a non-blank frame; the session or VM is ended afterwards
// (not timed).
func (c *apiClient) createToFrame(ctx context.Context, bound time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	began := time.Now()
	create, body := "/api/vms", `{"type":"browser"}`
	if c.route == "session" {
		create, body = "/api/auth/session", fmt.Sprintf(`{"targetUrl":%q}`, c.target)
	}
	code, resp, _, err := c.do(ctx, "POST", create, body)
	fmt.Fprintf(os.Stderr, "  POST %s answered %d after %v\n", create, code, time.Since(began).Round(time.Millisecond))
	if err != nil || code != http.StatusCreated {
		return 0, fmt.Errorf("POST %s: %d %s %v", create, code, resp, err)
	}
	var v struct{ ID, SessionID, NoVNCURL string }
	if err := json.Unmarshal(resp, &v); err != nil {
		return 0, fmt.Errorf("POST %s answered %s", create, resp)
	}
	end, ticketPath, first := "/api/vms/"+v.ID, "/api/vms/"+v.ID+"/vnc-ticket", ""
	if c.route == "session" {
		end, ticketPath, first = "/api/auth/session/"+v.SessionID, "/api/auth/session/"+v.SessionID+"/vnc-ticket", viewerPath(v.NoVNCURL)
	}
	if v.ID == "" || c.route == "session" && (v.SessionID == "" || first == "") {
		return 0, fmt.Errorf("POST %s answered %s", create, resp)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, _, _, _ = c.do(dctx, "DELETE", end, "")
	}()
	if err := c.firstFrame(ctx, ticketPath, first); err != nil {
		return 0, err
	}
	return time.Since(began), nil
}

// viewerPath is the WebSocket path (with its ticket) in a viewer URL's fragment, as noVNC reads it.
func viewerPath(viewer string) string {
	_, frag, _ := strings.Cut(viewer, "#")
	q, err := url.ParseQuery(frag)
	if err != nil || q.Get("path") == "" {
		return ""
	}
	return "/" + q.Get("path")
}

// firstFrame reads RFB frames through the noVNC WebSocket at wsPath (a path with its ticket; when
// empty, or for every retry, a new ticket from ticketPath) until one is not a single colour, as a
// browser's viewer would show it.
func (c *apiClient) firstFrame(ctx context.Context, ticketPath, wsPath string) error {
	var last error
	for ctx.Err() == nil {
		if wsPath == "" {
			code, body, _, err := c.do(ctx, "POST", ticketPath, "")
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("viewer ticket: %d %s %v", code, body, err)
			}
			var tk struct{ Path string }
			if err := json.Unmarshal(body, &tk); err != nil || tk.Path == "" {
				return fmt.Errorf("viewer ticket answered %s", body)
			}
			wsPath = tk.Path
		}
		url := "ws" + strings.TrimPrefix(c.base, "http") + wsPath
		wsPath = "" // a ticket opens one WebSocket
		hdr := http.Header{"Cookie": {c.cookie}, "Origin": {c.base}}
		began := time.Now()
		conn, err := rfb.DialWebSocket(ctx, url, &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: []string{"binary"}})
		dialed := time.Now()
		if err == nil {
			tc := &timedConn{Conn: conn, began: dialed}
			img, serr := rfb.ScreenshotIn(ctx, tc, c.enc)
			conn.Close()
			if serr == nil && !rfb.Blank(img) {
				fmt.Fprintf(os.Stderr, "  viewer: WebSocket %v, handshake and frame %v (%v)\n", dialed.Sub(began).Round(time.Millisecond), time.Since(dialed).Round(time.Millisecond), tc)
				return nil
			}
			last = cmpErr(serr, errors.New("blank frame"))
		} else {
			last = err
		}
		fmt.Fprintf(os.Stderr, "  viewer: attempt failed after %v: %v\n", time.Since(began).Round(time.Millisecond), last)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("no frame: %w (%v)", ctx.Err(), last)
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// waitWarm polls /metrics until the warm pool holds a VM.
func (c *apiClient) waitWarm(ctx context.Context, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		_, body, _, err := c.do(ctx, "GET", "/metrics", "")
		if err == nil {
			for _, line := range strings.Split(string(body), "\n") {
				if v, ok := strings.CutPrefix(line, "polydev_vm_warm "); ok {
					if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && n >= 1 {
						return nil
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("the warm pool did not refill in time")
}

func (r *frameReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# bench/vm viewer — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Command: `%s`\n\n", r.command)
	fmt.Fprintf(&b, "Host before: %s.\nHost after: %s.\n\n", r.host, r.hostAfter)
	start := "`POST /api/vms` (201), `POST /api/vms/{id}/vnc-ticket`"
	if r.route == "session" {
		start = "`POST /api/auth/session {targetUrl}` (201: the VM taken, its token set, the login started), the viewer URL it returns"
	}
	fmt.Fprintf(&b, "Create → first frame: %s, the noVNC WebSocket through Polydev's proxy, RFB handshake and one full "+
		"framebuffer update that is not a single colour, in the %s encoding.\n\n", start, encName(r.enc))
	b.WriteString("| measurement | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| serve start → listening | %s |\n", secs(r.startToListen))
	how := "golden VM booted, settled and snapshotted first"
	if r.goldenReused {
		how = "saved golden snapshot verified and restored"
	}
	fmt.Fprintf(&b, "| first session after start (%s): listening → first frame / create → first frame | %s / %s |\n", how, secs(r.firstAfterStart), secs(r.firstCreate))
	if len(r.warm) > 0 {
		s := slices.Sorted(slices.Values(r.warm))
		fmt.Fprintf(&b, "| from the warm pool, %d rounds: p50 / p90 / min / max | %s / %s / %s / %s |\n", len(s),
			secs(quantile(s, 0.5)), secs(quantile(s, 0.9)), secs(s[0]), secs(s[len(s)-1]))
		fmt.Fprintf(&b, "| each round, in order | %s |\n", durs(r.warm))
		fmt.Fprintf(&b, "| warm pool refill wait before each round | %s |\n", durs(r.warmWaits))
	}
	return b.String()
}

// quantile is the nearest-rank quantile of sorted s.
func quantile(s []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
