package egress

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/polydev/polydev/netguard"
)

// GuestAddr is where every guest reaches its egress proxy, in both network modes: inside QEMU's
// user-mode subnet (10.0.2.0/24) and outside its DHCP range, and the same inner address vm/netns
// gives tap-mode guests, so a snapshot taken in either mode works in both.
var GuestAddr = netip.MustParseAddrPort("10.0.2.100:3128")

// Errors of Serve and Open.
var (
	ErrNoVM    = errors.New("egress: the VM has no egress listener (VM support or its egress is off)")
	ErrBound   = errors.New("egress: the VM's egress is already bound to a session")
	ErrServing = errors.New("egress: the VM's egress listener is already open")
)

// Config configures a Proxy. The zero value is usable: public destinations only, no upstream.
type Config struct {
	// Guard judges every destination: direct connections are dialed by Guard.DialContext (only
	// permitted addresses, checked on the socket itself), and with an Upstream every address the
	// name resolves to is checked before the upstream is asked. Nil: public addresses only.
	// Production adds netguard.Self so that no guest reaches Polydev's own listener.
	Guard *netguard.Policy
	// Upstream, when set, is the operator's proxy every connection is chained through.
	Upstream *Upstream
	// DialTimeout bounds a connection to a destination (or the upstream's CONNECT); default 30s.
	DialTimeout time.Duration
	Log         *slog.Logger
}

// Proxy serves the egress listeners of all VMs. Controllers open and close a VM's listener
// (Serve, CloseVM); the auth session service binds a session's policy to it (Open, Session.Close).
type Proxy struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	plain   *http.Transport // plain-HTTP forwarding

	mu  sync.Mutex
	vms map[string]*gate
}

// New returns a Proxy. It listens nowhere until Serve.
func New(cfg Config) (*Proxy, error) {
	if cfg.Guard == nil {
		cfg.Guard = &netguard.Policy{}
	}
	cfg.DialTimeout = cmp.Or(cfg.DialTimeout, 30*time.Second)
	if cfg.DialTimeout < 0 {
		return nil, errors.New("egress: negative dial timeout")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{cfg: cfg, log: cfg.Log.With("service", "egress"), metrics: newMetrics(), vms: map[string]*gate{}}
	p.plain = p.plainTransport()
	return p, nil
}

// Serve starts serving VM vmID's egress on ln (a unix socket the guest's guestfwd pipe reaches,
// or a listener inside the VM's network namespace). Until a session is bound with Open, every
// request is refused. The Proxy owns ln from now on; CloseVM closes it.
func (p *Proxy) Serve(vmID string, ln net.Listener) error {
	if vmID == "" {
		return errors.New("egress: empty VM id")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.vms[vmID]; ok {
		return fmt.Errorf("%w: VM %s", ErrServing, vmID)
	}
	g := newGate(p, vmID, ln)
	p.vms[vmID] = g
	go g.serve()
	return nil
}

// CloseVM stops serving VM vmID: its session (if any) ends, its listener and every connection
// close. Closing a VM that is not served does nothing.
func (p *Proxy) CloseVM(vmID string) {
	p.mu.Lock()
	g := p.vms[vmID]
	delete(p.vms, vmID)
	p.mu.Unlock()
	if g != nil {
		g.close()
	}
}

// Open binds a session's policy to VM vmID's egress and returns the session; from now on the
// guest reaches what pol allows, within its limits, until Session.Close, CloseVM or a limit.
func (p *Proxy) Open(vmID string, pol Policy) (*Session, error) {
	pol, err := pol.withDefaults()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	g := p.vms[vmID]
	p.mu.Unlock()
	if g == nil {
		return nil, fmt.Errorf("%w: VM %s", ErrNoVM, vmID)
	}
	s, err := g.bind(pol)
	if err != nil {
		return nil, err
	}
	p.metrics.sessions.Inc()
	p.log.Info("egress session opened", "session", pol.Session, "vm", vmID, "hosts", len(pol.Allow),
		"max_bytes", pol.MaxBytes, "max_duration", pol.MaxDuration)
	return s, nil
}
