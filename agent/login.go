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
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
	kill    func()        // stops the running CLI's process group
	done    chan struct{} // closed when the CLI has exited
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
		if err := l.cfg.Open(ctx, req.TargetURL); err != nil {
			l.status.State, l.status.Error = LoginFailed, "could not open the page in the browser"
			return fmt.Errorf("open target: %w", err)
		}
		return nil
	}
	if err := l.startCLI(p); err != nil {
		l.status.State, l.status.Error = LoginFailed, "the login command did not start"
		return fmt.Errorf("start %s login: %w", p.Name, err)
	}
	return nil
}

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
	op, err := startOpener("", l.cfg.Self, l.cfg.Open)
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
	path := op.dir + string(os.PathListSeparator) + os.Getenv("PATH")
	cmd.Env = append(os.Environ(), "HOME="+l.cfg.Home, "PATH="+path, "TERM=xterm-256color", "COLORTERM=truecolor")
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
	go func() { _, _ = io.Copy(io.Discard, master) }()
	if p.QuitInput != "" {
		go l.quitOnCredential(credPath, p.QuitInput, master, stopPoll)
	}
	go func() {
		err := cmd.Wait()
		close(stopPoll)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what the CLI left running in its session
		master.Close()
		op.close()
		l.finish(p, credPath, err)
	}()
	l.cfg.Log.Info("login started", "provider", p.Name, "pid", cmd.Process.Pid)
	return nil
}

// quitOnCredential types input once the credential file exists, for CLIs that stay interactive.
func (l *Login) quitOnCredential(credPath, input string, tty io.Writer, stop <-chan struct{}) {
	t := time.NewTicker(l.cfg.PollEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if fi, err := os.Stat(credPath); err == nil && fi.Size() > 0 {
			// One poll period more lets the CLI finish writing and redraw; the terminal takes the
			// command and Enter apart, as typed.
			time.Sleep(l.cfg.PollEvery)
			_, _ = io.WriteString(tty, input[:len(input)-1])
			time.Sleep(l.cfg.PollEvery)
			_, _ = io.WriteString(tty, input[len(input)-1:])
			return
		}
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
