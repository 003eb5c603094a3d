package agent

// The login runner (POST/GET/DELETE /login, GET /login/credential). For a provider it runs that CLI's
// own login command (providers.go) under a pseudo-terminal, as a user at a terminal would, with the
// running Chromium as its browser (opener.go): the CLI's real OAuth flow, its PKCE localhost callback
// included, happens in the browser the user sees over noVNC. Completion is the command exiting 0 with
// its credential file present; the host then takes the file, once (it is removed in the guest as it is
// read), and seals it. For a targetUrl the runner only opens the page: there is no CLI and no file,
// and the host decides when the session ends.
//
// The terminal's output is drained and dropped: it can hold authorization codes and URLs with state,
// so it is neither logged nor returned.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Login states, as GET /login reports them.
const (
	LoginIdle      = "idle"      // nothing started in this VM yet
	LoginRunning   = "running"   // the CLI runs, or the targetUrl page is open
	LoginCompleted = "completed" // the CLI exited 0 and its credential file exists
	LoginFailed    = "failed"    // the CLI exited otherwise, could not start, or was cancelled
)

// LoginRequest is the body of POST /login: exactly one of Provider and TargetURL.
type LoginRequest struct {
	Provider  string `json:"provider,omitempty"`
	TargetURL string `json:"targetUrl,omitempty"`
}

// LoginStatus is GET /login's answer.
type LoginStatus struct {
	State     string `json:"state"`
	Provider  string `json:"provider,omitempty"`
	TargetURL string `json:"targetUrl,omitempty"`
	Error     string `json:"error,omitempty"`
}

// CredentialFile is GET /login/credential's answer: the credential file's bytes (base64 in JSON).
type CredentialFile struct {
	Provider string `json:"provider"`
	File     string `json:"file"`   // path relative to the CLI's HOME
	Format   string `json:"format"` // "json": every supported CLI keeps JSON
	Content  []byte `json:"content"`
}

// Opener shows a URL in the browser.
type Opener func(ctx context.Context, url string) error

// LoginConfig configures the runner.
type LoginConfig struct {
	Providers map[string]Provider // default DefaultProviders()
	Home      string              // the CLIs' HOME; default $HOME, else /root
	Env       []string            // extra environment: DISPLAY, the egress proxy, extra CAs
	PathDirs  []string            // searched for the CLIs after the browser helper, before the agent's PATH
	Open      Opener              // the browser; required
	// Self is the executable the opener links point to; default os.Executable() (the agent).
	Self string
	// PollEvery is how often the credential file is looked for while the CLI runs; default 250 ms.
	PollEvery time.Duration
	Log       *slog.Logger
}

// Login runs at most one login per VM: a browser VM serves one session.
type Login struct {
	cfg LoginConfig

	mu      sync.Mutex
	status  LoginStatus
	taken   bool
	started bool
	kill    func()         // stops the running CLI's process group
	done    chan struct{}  // closed when the CLI has exited
	opening sync.WaitGroup // a targetUrl page being opened (openTarget)
}

// NewLogin returns an idle runner.
func NewLogin(cfg LoginConfig) (*Login, error) {
	if cfg.Open == nil {
		return nil, errors.New("agent: login runner needs a browser")
	}
	if cfg.Providers == nil {
		cfg.Providers = DefaultProviders()
	}
	if cfg.Home == "" {
		cfg.Home = cmp.Or(os.Getenv("HOME"), "/root")
	}
	if cfg.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("agent: own executable: %w", err)
		}
		cfg.Self = self
	}
	cfg.PollEvery = cmp.Or(cfg.PollEvery, 250*time.Millisecond)
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Login{cfg: cfg, status: LoginStatus{State: LoginIdle}}, nil
}

// Status is a copy of the current state.
func (l *Login) Status() LoginStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

// Start begins req. A second Start in the same VM is refused, whatever became of the first.
func (l *Login) Start(ctx context.Context, req LoginRequest) error {
	if (req.Provider == "") == (req.TargetURL == "") {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "want exactly one of provider and targetUrl"}
	}
	var p Provider
	if req.Provider != "" {
		var ok bool
		if p, ok = l.cfg.Providers[req.Provider]; !ok {
			return &Error{Status: http.StatusBadRequest, Code: "unknown_provider", Message: fmt.Sprintf("unknown provider %q", req.Provider)}
		}
	} else if !isWebURL(req.TargetURL) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "targetUrl must be an absolute http(s) URL"}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return &Error{Status: http.StatusConflict, Code: "login_exists", Message: "a login was already started in this VM"}
	}
	l.started = true
	l.status = LoginStatus{State: LoginRunning, Provider: req.Provider, TargetURL: req.TargetURL}
	if req.TargetURL != "" {
		// Opened after the answer: Chromium takes seconds to make a tab under QEMU TCG, and the
		// host's session create (and with it the viewer's first frame) waited for it. A page
		// that does not open fails the login, which the host's poll reports.
		l.opening.Add(1)
		go l.openTarget(req.TargetURL)
		return nil
	}
	if err := l.startCLI(p); err != nil {
		l.status.State, l.status.Error = LoginFailed, "the login command did not start"
		return fmt.Errorf("start %s login: %w", p.Name, err)
	}
	return nil
}

// openTarget shows a targetUrl session's page in the browser.
func (l *Login) openTarget(u string) {
	defer l.opening.Done()
	ctx, cancel := context.WithTimeout(context.Background(), openTargetWithin)
	defer cancel()
	err := l.cfg.Open(ctx, u)
	if err == nil {
		l.cfg.Log.Info("login: the target page is open", "host", hostOf(u))
		return
	}
	l.cfg.Log.Warn("login: the browser did not open the target page", "host", hostOf(u), "err", err)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.status.State == LoginRunning {
		l.status.State, l.status.Error = LoginFailed, "could not open the page in the browser"
	}
}

// openTargetWithin bounds opening a targetUrl session's page.
const openTargetWithin = 2 * time.Minute

// startCLI starts p's command under a pty; l.mu is held.
func (l *Login) startCLI(p Provider) error {
	if len(p.Command) == 0 {
		return errors.New("provider has no command")
	}
	for name, content := range p.Files {
		if err := writeIfAbsent(filepath.Join(l.cfg.Home, name), content); err != nil {
			return err
		}
	}
	// A leftover credential file (there should be none in a fresh clone) would complete a login the
	// user never made.
	credPath := filepath.Join(l.cfg.Home, p.CredentialFile)
	if err := os.Remove(credPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// The CLI's request to open a page, and the browser's answer, are logged (the host only: the
	// URL carries the flow's state): the CLI reports a failure only on its terminal, which no one reads.
	open := func(ctx context.Context, u string) error {
		err := l.cfg.Open(ctx, u)
		if err != nil {
			l.cfg.Log.Warn("login: the browser did not open the CLI's page", "provider", p.Name, "host", hostOf(u), "err", err)
		} else {
			l.cfg.Log.Info("login: the CLI's page is open", "provider", p.Name, "host", hostOf(u))
		}
		return err
	}
	op, err := startOpener("", l.cfg.Self, open)
	if err != nil {
		return fmt.Errorf("browser helper: %w", err)
	}
	master, tty, err := openPTY(120, 40)
	if err != nil {
		op.close()
		return err
	}
	cmd := exec.Command(p.Command[0], p.Command[1:]...)
	cmd.Dir = l.cfg.Home
	path := strings.Join(append(append([]string{op.dir}, l.cfg.PathDirs...), os.Getenv("PATH")), string(os.PathListSeparator))
	cmd.Env = append(cliEnviron(os.Environ()), "HOME="+l.cfg.Home, "PATH="+path, "TERM=xterm-256color", "COLORTERM=truecolor")
	cmd.Env = append(append(cmd.Env, op.env()...), l.cfg.Env...)
	if lp, err := lookPath(p.Command[0], path); err == nil {
		cmd.Path, cmd.Err = lp, nil // exec.Command looked in the agent's PATH, not the CLI's
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = ttyProcAttr()
	if err := cmd.Start(); err != nil {
		master.Close()
		tty.Close()
		op.close()
		return err
	}
	tty.Close() // the child has its own copies; master reads EOF/EIO once they are all gone
	l.done = make(chan struct{})
	l.kill = func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stopPoll := make(chan struct{})
	go answerPrompts(master, p.Prompts)
	var stopped atomic.Bool // the runner stopped the CLI because its credential was written
	if p.StopOnCredential {
		go l.stopOnCredential(credPath, &stopped, l.kill, stopPoll)
	}
	go func() {
		err := cmd.Wait()
		if stopped.Load() {
			err = nil
		}
		close(stopPoll)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what the CLI left running in its session
		master.Close()
		op.close()
		l.finish(p, credPath, err)
	}()
	l.cfg.Log.Info("login started", "provider", p.Name, "pid", cmd.Process.Pid)
	return nil
}

// answerPrompts reads the terminal until it closes, typing each prompt's answer once its question
// has appeared. What it reads is dropped.
func answerPrompts(tty io.ReadWriter, prompts []Prompt) {
	var seen []byte // the output since the last answer, escapes and white space removed
	buf := make([]byte, 4096)
	for {
		n, err := tty.Read(buf)
		if len(prompts) > 0 && n > 0 {
			seen = append(seen, squeeze(buf[:n])...)
			if want := squeeze([]byte(prompts[0].Expect)); bytes.Contains(seen, want) {
				_, _ = io.WriteString(tty, prompts[0].Input)
				prompts, seen = prompts[1:], seen[:0]
			} else if len(seen) > 64<<10 {
				seen = seen[len(seen)-len(want):]
			}
		}
		if err != nil {
			return
		}
	}
}

// squeeze drops ANSI escape sequences (CSI "ESC [ … final", OSC "ESC ] … BEL/ST", two-byte ones) and
// white space, so text a TUI draws with cursor moves between the words still matches.
func squeeze(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x1b && i+1 < len(b) && b[i+1] == '[':
			i += 2
			for i < len(b) && (b[i] < 0x40 || b[i] > 0x7e) {
				i++
			}
		case c == 0x1b && i+1 < len(b) && b[i+1] == ']':
			for i < len(b) && b[i] != 0x07 && !(b[i] == '\\' && b[i-1] == 0x1b) {
				i++
			}
		case c == 0x1b:
			i++
		case c <= ' ' || c == 0x7f:
		default:
			out = append(out, c)
		}
	}
	return out
}

// stopOnCredential stops the CLI's session once its credential file exists and has kept its size for
// one poll, for CLIs that go on after signing in.
func (l *Login) stopOnCredential(credPath string, stopped *atomic.Bool, kill func(), stop <-chan struct{}) {
	t := time.NewTicker(l.cfg.PollEvery)
	defer t.Stop()
	last := int64(-1)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		fi, err := os.Stat(credPath)
		if err != nil || fi.Size() == 0 {
			continue
		}
		if fi.Size() == last {
			stopped.Store(true)
			kill()
			return
		}
		last = fi.Size()
	}
}

func (l *Login) finish(p Provider, credPath string, waitErr error) {
	_, statErr := os.Stat(credPath)
	l.mu.Lock()
	defer l.mu.Unlock()
	defer close(l.done)
	switch {
	case l.status.State == LoginFailed: // cancelled
	case waitErr != nil:
		l.status.State, l.status.Error = LoginFailed, "the login command failed: "+exitDescription(waitErr)
	case statErr != nil:
		l.status.State, l.status.Error = LoginFailed, "the login command exited without writing "+p.CredentialFile
	default:
		l.status.State = LoginCompleted
	}
	l.cfg.Log.Info("login finished", "provider", p.Name, "state", l.status.State, "error", l.status.Error)
}

func exitDescription(err error) string {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ProcessState.String()
	}
	return err.Error()
}

// Cancel stops a running CLI; the state becomes failed. It waits for the CLI to be gone.
func (l *Login) Cancel() {
	l.mu.Lock()
	if l.status.State != LoginRunning {
		l.mu.Unlock()
		return
	}
	l.status.State, l.status.Error = LoginFailed, "cancelled"
	kill, done := l.kill, l.done
	l.mu.Unlock()
	if kill != nil {
		kill()
		<-done
	}
}

// TakeCredential returns the credential file once, after completion, and removes it from the guest.
func (l *Login) TakeCredential() (CredentialFile, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.status.State != LoginCompleted || l.status.Provider == "" {
		return CredentialFile{}, &Error{Status: http.StatusConflict, Code: "not_completed", Message: "the login has not completed"}
	}
	if l.taken {
		return CredentialFile{}, &Error{Status: http.StatusGone, Code: "credential_taken", Message: "the credential was already handed over"}
	}
	p := l.cfg.Providers[l.status.Provider]
	path := filepath.Join(l.cfg.Home, p.CredentialFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return CredentialFile{}, fmt.Errorf("read credential: %w", err)
	}
	if err := os.Remove(path); err != nil {
		clear(b)
		return CredentialFile{}, fmt.Errorf("remove credential: %w", err)
	}
	l.taken = true
	return CredentialFile{Provider: p.Name, File: p.CredentialFile, Format: "json", Content: b}, nil
}

// Close stops a running CLI (agent shutdown).
func (l *Login) Close() { l.Cancel() }

// maxLoginBody bounds POST /login.
const maxLoginBody = 16 << 10

var errNoLogin = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no login runner here"}

func (l *Login) serveStart(w http.ResponseWriter, r *http.Request) error {
	if l == nil {
		return errNoLogin
	}
	var req LoginRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxLoginBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "want {provider} or {targetUrl}", Cause: err}
	}
	if err := l.Start(context.WithoutCancel(r.Context()), req); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, l.Status())
	return nil
}

func (l *Login) serveStatus(w http.ResponseWriter, r *http.Request) error {
	if l == nil {
		return errNoLogin
	}
	writeJSON(w, http.StatusOK, l.Status())
	return nil
}

func (l *Login) serveCancel(w http.ResponseWriter, r *http.Request) error {
	if l == nil {
		return errNoLogin
	}
	l.Cancel()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (l *Login) serveCredential(w http.ResponseWriter, r *http.Request) error {
	if l == nil {
		return errNoLogin
	}
	c, err := l.TakeCredential()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	clear(c.Content)
	return nil
}

func writeIfAbsent(path, content string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o600)
}

// headlessMarkers make a CLI believe nobody is at a browser (Gemini CLI then prints its URL and asks
// for a pasted code instead of opening the browser); an agent started from a build or CI shell would
// pass them on.
var headlessMarkers = []string{"CI", "DEBIAN_FRONTEND", "NO_BROWSER", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"}

// cliEnviron is the agent's environment without headlessMarkers.
func cliEnviron(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(headlessMarkers, k) {
			out = append(out, kv)
		}
	}
	return out
}

// lookPath finds name in the given PATH list (exec.LookPath only knows the agent's own).
func lookPath(name, pathList string) (string, error) {
	if filepath.IsAbs(name) || filepath.Base(name) != name {
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathList) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

// hostOf is u's host for a log line, or "" when u does not parse.
func hostOf(u string) string {
	if v, err := url.Parse(u); err == nil {
		return v.Host
	}
	return ""
}
