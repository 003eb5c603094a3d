package authsession

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/periodic"
	"github.com/polydev/polydev/vault"
)

// Egress opens a session's way out of its VM: the VM's egress listener with the session's
// allow-list (package egress; cmd/polydev adapts its Proxy). Closing the result ends the session's
// tunnels at once.
type Egress interface {
	Open(vmID string, a *polydev.AuthSession) (io.Closer, error)
}

// Config is what the service needs; zero durations get the defaults noted.
type Config struct {
	Store polydev.Store
	VMs   polydev.VMController
	Vault *vault.Vault
	// Egress gives each session its allow-list (ProxyEgress); nil means none is configured and a
	// session's VM has no way out (a warning is logged per session).
	Egress Egress
	// Agent makes the client of one VM's agent from a dial to its port; nil is NewHTTPAgent.
	Agent func(dial func(context.Context) (net.Conn, error)) Agent
	Log   *slog.Logger
	Now   func() time.Time

	TTL          time.Duration // default polydev.AuthSessionTTL: a session and its VM end this long after creation
	PollEvery    time.Duration // default 2s: how often a running login is asked how it is going
	SweepEvery   time.Duration // default 1m: the expiry job's period
	StartTimeout time.Duration // default 6m: taking a VM (a cold boot at worst) and starting the login
	MaxActive    int           // default 2: a user's sessions pending or running at once
}

// Service runs login sessions. Build it with New, Start it once the store is open, Stop it before
// the VM controller stops.
//
// Invariants a reviewer checks: every status move is the store's compare-and-set, and the actor
// whose move ended a session (runner, Cancel, the expiry job, Stop) reaps its VM; a VM recorded on
// a final session and not released is reaped by the expiry job, so a crash between the two leaves
// nothing behind for longer than one sweep. The per-clone token lives only in this process's
// memory (the runner), never in the store or a log.
type Service struct {
	cfg  Config
	loop periodic.Loop

	mu       sync.Mutex
	runners  map[string]*runner // by session id: sessions this process is driving
	stopping bool
	wg       sync.WaitGroup
}

// runner is one session this process drives.
type runner struct {
	user   *polydev.User
	token  string
	agent  Agent
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	vmID   string
	egress io.Closer
}

func (r *runner) setVM(id string, a Agent) {
	r.mu.Lock()
	r.vmID, r.agent = id, a
	r.mu.Unlock()
}

func (r *runner) setEgress(c io.Closer) {
	r.mu.Lock()
	r.egress = c
	r.mu.Unlock()
}

// takeEgress returns the egress session to close, once.
func (r *runner) takeEgress() io.Closer {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.egress
	r.egress = nil
	return c
}

// New returns a service with cfg's defaults filled in.
func New(cfg Config) *Service {
	cfg.TTL = cmp.Or(cfg.TTL, polydev.AuthSessionTTL)
	cfg.PollEvery = cmp.Or(cfg.PollEvery, 2*time.Second)
	cfg.SweepEvery = cmp.Or(cfg.SweepEvery, time.Minute)
	cfg.StartTimeout = cmp.Or(cfg.StartTimeout, 6*time.Minute)
	cfg.MaxActive = cmp.Or(cfg.MaxActive, 2)
	if cfg.Agent == nil {
		cfg.Agent = NewHTTPAgent
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Log = cfg.Log.With("service", "authsession")
	if cfg.Now == nil {
		cfg.Now = polydev.Now
	}
	return &Service{cfg: cfg, runners: map[string]*runner{}}
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// Start ends the sessions a previous process left active (their runners and tokens died with it)
// and starts the expiry job.
func (s *Service) Start(ctx context.Context) {
	s.recover(ctx)
	s.loop.Start(ctx, s.cfg.SweepEvery, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.SweepEvery)
		defer cancel()
		s.Sweep(ctx)
	})
}

// Stop ends the expiry job, then every session this process drives (failed: "the server
// stopped"), reaping their VMs.
func (s *Service) Stop() {
	s.loop.Stop()
	s.mu.Lock()
	s.stopping = true
	for _, r := range s.runners {
		r.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Create starts a login session for u: a browser VM from the pool, its per-clone token, the
// session's egress allow-list, then the login through the agent. It returns once the login runs
// (or failed); the runner then polls the agent until it completes. Bad input changes nothing.
func (s *Service) Create(ctx context.Context, u *polydev.User, req Request) (*polydev.AuthSession, error) {
	target, err := req.Validate()
	if err != nil {
		return nil, err
	}
	if s.cfg.VMs == nil {
		return nil, polydev.ErrVMOff
	}
	limits, err := s.cfg.Store.TierLimitsFor(ctx, u.Tier)
	if err != nil {
		return nil, err
	}
	if limits.MaxVMs <= 0 {
		return nil, polydev.Errorf(polydev.EFORBIDDEN, "login sessions run in a VM and the %s tier does not include VMs; upgrade to a tier that does", u.Tier)
	}
	mine, err := s.cfg.Store.ListAuthSessions(ctx, u.ID, 100)
	if err != nil {
		return nil, err
	}
	active := 0
	for _, a := range mine {
		if a.Status.Active() && s.now().Before(a.ExpiresAt) {
			active++
		}
	}
	if active >= s.cfg.MaxActive {
		return nil, polydev.Errorf(polydev.ECONFLICT, "you have %d login sessions in progress; finish or cancel one first (DELETE /api/auth/session/{id})", active)
	}

	now := s.now()
	a := &polydev.AuthSession{ID: polydev.NewID(), UserID: u.ID, Provider: req.Provider, TargetURL: target,
		Status: polydev.AuthPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.cfg.TTL)}
	if err := s.cfg.Store.CreateAuthSession(ctx, a); err != nil {
		return nil, err
	}
	r, ok := s.track(a.ID, u)
	if !ok {
		s.end(context.WithoutCancel(ctx), a, nil, polydev.AuthFailed, "the server is stopping; start a new session")
		return nil, polydev.Errorf(polydev.EUNAVAILABLE, "the server is stopping; retry in a moment")
	}
	// The request's client may go away; what was started must still be finished or undone.
	// A cancel during the start stops the start's calls too (they would only be undone).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StartTimeout)
	defer cancel()
	stop := context.AfterFunc(r.ctx, cancel)
	defer stop()
	if err := s.prepare(ctx, a, r); err != nil {
		undo, cancelUndo := context.WithTimeout(context.Background(), time.Minute)
		defer cancelUndo()
		s.abandon(undo, a, r, err)
		return nil, err
	}
	s.wg.Go(func() { s.run(a, r) })
	return s.cfg.Store.AuthSessionByID(ctx, u.ID, a.ID)
}

// prepare takes the VM and starts the login; the session is running when it returns nil.
func (s *Service) prepare(ctx context.Context, a *polydev.AuthSession, r *runner) error {
	log := s.cfg.Log.With("auth_session", a.ID, "user_id", a.UserID)
	v, err := s.cfg.VMs.Create(ctx, r.user, polydev.VMBrowser)
	if err != nil {
		return err
	}
	a.VMID = v.ID
	ag := s.cfg.Agent(func(ctx context.Context) (net.Conn, error) {
		return s.cfg.VMs.Dial(ctx, r.user, v.ID, polydev.VMPortAgent)
	})
	r.setVM(v.ID, ag)
	if err := s.cfg.Store.SetAuthSessionVM(ctx, a.ID, v.ID, s.now()); err != nil {
		return err // cancelled meanwhile: abandon reaps the VM
	}
	if err := ag.SetToken(ctx, r.token); err != nil {
		return agentFailed(err, "the login VM refused its token")
	}
	var out io.Closer
	if s.cfg.Egress != nil {
		if out, err = s.cfg.Egress.Open(v.ID, a); err != nil {
			return polydev.Wrap(polydev.EUNAVAILABLE, err, "the login VM's egress proxy could not be opened; start a new session")
		}
	}
	if out == nil {
		log.Warn("no egress proxy for the login VM: it has no way out", "vm_id", v.ID)
	}
	r.setEgress(out)
	if err := ag.StartLogin(ctx, r.token, Request{Provider: a.Provider, TargetURL: a.TargetURL}); err != nil {
		return agentFailed(err, "the login could not be started in the VM")
	}
	if err := s.cfg.Store.StartAuthSession(ctx, a.ID, s.now()); err != nil {
		return err
	}
	log.Info("login session running", "vm_id", v.ID, "provider", a.Provider, "target_host", targetHost(a.TargetURL))
	return nil
}

// agentFailed is the user's view of an agent call that failed: unavailable, with the agent's
// reason logged as the cause.
func agentFailed(err error, msg string) error {
	return polydev.Wrap(polydev.EUNAVAILABLE, err, "%s; start a new session", msg)
}

// abandon ends a session whose start failed with err and reaps what was made. If someone else
// ended it first (a cancel during the start), the VM is still reaped here, since the canceller
// may not have seen its id.
func (s *Service) abandon(ctx context.Context, a *polydev.AuthSession, r *runner, err error) {
	s.untrack(a.ID)
	s.end(ctx, a, r, polydev.AuthFailed, polydev.ErrorMessage(err))
	s.reap(ctx, a, r)
}

// track registers the runner of session id; false when the service is stopping.
func (s *Service) track(id string, u *polydev.User) (*runner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil, false
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{user: u, token: newToken(), ctx: ctx, cancel: cancel}
	s.runners[id] = r
	return r, true
}

// untrack forgets session id's runner and stops it; it returns the runner (nil if none).
func (s *Service) untrack(id string) *runner {
	s.mu.Lock()
	r := s.runners[id]
	delete(s.runners, id)
	s.mu.Unlock()
	if r != nil {
		r.cancel()
	}
	return r
}

func (s *Service) runner(id string) *runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runners[id]
}

// end moves a from active to the final status to; false when another actor ended it first.
func (s *Service) end(ctx context.Context, a *polydev.AuthSession, r *runner, to polydev.AuthSessionStatus, reason string) bool {
	err := s.cfg.Store.EndAuthSession(ctx, a.ID, to, reason, s.now())
	if err != nil {
		if polydev.ErrorCode(err) != polydev.ECONFLICT {
			s.cfg.Log.Error("ending login session failed", "auth_session", a.ID, "to", to, "err", err)
		}
		return false
	}
	s.cfg.Log.Info("login session ended", "auth_session", a.ID, "user_id", a.UserID, "status", to, "reason", reason)
	return true
}

// reap closes the session's egress and destroys its VM, then records the VM released. A failure is
// logged and left to the expiry job, which retries.
func (s *Service) reap(ctx context.Context, a *polydev.AuthSession, r *runner) {
	if r != nil {
		if c := r.takeEgress(); c != nil {
			if err := c.Close(); err != nil {
				s.cfg.Log.Warn("closing a login session's egress failed", "auth_session", a.ID, "err", err)
			}
		}
	}
	vmID := a.VMID
	if vmID == "" && r != nil {
		r.mu.Lock()
		vmID = r.vmID
		r.mu.Unlock()
	}
	if vmID == "" || s.cfg.VMs == nil {
		return
	}
	u := &polydev.User{ID: a.UserID}
	if r != nil {
		u = r.user
	}
	if err := s.cfg.VMs.Delete(ctx, u, vmID); err != nil && polydev.ErrorCode(err) != polydev.ENOTFOUND {
		s.cfg.Log.Warn("reaping a login session's VM failed; the expiry job retries", "auth_session", a.ID, "vm_id", vmID, "err", err)
		return
	}
	if err := s.cfg.Store.ReleaseAuthSessionVM(ctx, a.ID, s.now()); err != nil && polydev.ErrorCode(err) != polydev.ECONFLICT {
		s.cfg.Log.Warn("recording a login session's VM released failed", "auth_session", a.ID, "err", err)
		return
	}
	s.cfg.Log.Info("login session VM reaped", "auth_session", a.ID, "vm_id", vmID)
}

// Get returns u's session id.
func (s *Service) Get(ctx context.Context, u *polydev.User, id string) (*polydev.AuthSession, error) {
	return s.cfg.Store.AuthSessionByID(ctx, u.ID, id)
}

// Cancel ends u's active session id (cancelled) and reaps its VM. A session already final is a
// conflict that names its status.
func (s *Service) Cancel(ctx context.Context, u *polydev.User, id string) (*polydev.AuthSession, error) {
	a, err := s.cfg.Store.AuthSessionByID(ctx, u.ID, id)
	if err != nil {
		return nil, err
	}
	if !a.Status.Active() {
		return nil, polydev.Errorf(polydev.ECONFLICT, "the session is already %s", a.Status)
	}
	ctx = context.WithoutCancel(ctx)
	if !s.end(ctx, a, nil, polydev.AuthCancelled, "cancelled by the user") {
		return s.cfg.Store.AuthSessionByID(ctx, u.ID, id) // someone else ended it: show how
	}
	r := s.untrack(id)
	if r != nil {
		if ag := r.agentOrNil(); ag != nil {
			if err := ag.CancelLogin(ctx, r.token); err != nil {
				s.cfg.Log.Debug("cancelling the login in the guest failed; the VM goes anyway", "auth_session", id, "err", err)
			}
		}
	}
	s.reap(ctx, a, r)
	return s.cfg.Store.AuthSessionByID(ctx, u.ID, id)
}

func (r *runner) agentOrNil() Agent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.agent
}

// credentialAAD binds a sealed credential to its session and to the provider (or target URL) it
// signs in to; vault.Vault.Seal adds the user.
func credentialAAD(a *polydev.AuthSession) vault.AAD {
	scope := string(a.Provider)
	if scope == "" {
		scope = a.TargetURL
	}
	return vault.AAD{Table: "auth_sessions", Column: "credential:" + scope, RowID: a.ID}
}

// OpenCredential returns the plaintext of u's completed session id's credential and its file
// name. The caller clears the bytes after use.
func (s *Service) OpenCredential(ctx context.Context, u *polydev.User, id string) ([]byte, string, error) {
	a, err := s.cfg.Store.AuthSessionByID(ctx, u.ID, id)
	if err != nil {
		return nil, "", err
	}
	if a.Credential == nil {
		return nil, "", polydev.Errorf(polydev.ECONFLICT, "the session is %s and holds no credential", a.Status)
	}
	b, err := s.cfg.Vault.Open(ctx, u.ID, credentialAAD(a), a.Credential.Sealed)
	if err != nil {
		return nil, "", err
	}
	return b, a.Credential.Name, nil
}
