package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/accounting"
	"github.com/polydev/polydev/auth"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/mail"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/policy"
	"github.com/polydev/polydev/pricing"
	"github.com/polydev/polydev/providerkeys"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/vault"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/controller"
	"github.com/polydev/polydev/vm/firecracker"
	"github.com/polydev/polydev/vm/image"
	"github.com/polydev/polydev/vm/netns"
	"github.com/polydev/polydev/vm/netpool"
	"github.com/polydev/polydev/vm/qemu"
	"github.com/polydev/polydev/web"
	"github.com/polydev/polydev/web/ui"
)

// closers runs named shutdown steps in reverse order of registration, logging each.
type closers struct {
	log   *slog.Logger
	steps []closer
}

type closer struct {
	name string
	fn   func(context.Context) error
}

func (c *closers) add(name string, fn func(context.Context) error) {
	c.steps = append(c.steps, closer{name, fn})
}

func (c *closers) close(ctx context.Context) error {
	var errs []error
	for i := len(c.steps) - 1; i >= 0; i-- {
		s := c.steps[i]
		if err := s.fn(ctx); err != nil {
			c.log.Error("shutdown step failed", "step", s.name, "err", err)
			errs = append(errs, err)
		} else {
			c.log.Debug("shutdown step done", "step", s.name)
		}
	}
	return errors.Join(errs...)
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	// The collector collects at three times the live heap, and not before the heap reaches a floor
	// (gctune.go); GOGC or GOMEMLIMIT in the environment still decide.
	tuneServerGC(getenv)
	// Log lines are buffered briefly (logout.go): the access log's line per request would otherwise
	// be a write(2) of its own. Warnings and errors go out at once; the rest at the end.
	out := newLogOutput(stderr)
	defer out.Flush()
	h := cfg.logger(out).Handler()
	if cfg.LogFormat != "json" {
		h = textAccessHandler{h, out} // the access log's line without slog's general path
	}
	log := slog.New(urgentHandler{h, out})
	slog.SetDefault(log)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}

	cl := &closers{log: log}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		_ = cl.close(sctx)
		log.Info("stopped")
	}()

	db, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	cl.add("store", func(context.Context) error { return db.Close() })

	kr, keyFile, err := loadKeyring(cfg, log)
	if err != nil {
		return err
	}
	vlt := vault.NewVault(kr, db, keyFile)
	guard, err := netguard.ParseAllowList(cfg.AllowPrivate)
	if err != nil {
		return fmt.Errorf("POLYDEV_ALLOW_PRIVATE_UPSTREAMS: %w", err)
	}
	private, err := providerkeys.ParsePrivateAccess(cfg.PrivateFor)
	if err != nil {
		return err
	}
	// The server's own listener is never a destination, whatever the allow list says; its address
	// is known once the listener opens, below.
	self := &netguard.Self{}
	guard = guard.WithSelf(self)
	log.Info("upstream policy", "private_destinations", guard.String(), "private_for", private.String())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Admitting a request writes nothing to the database: one server owning a SQLite file keeps its
	// limits in memory (store.Local); PostgreSQL replicas admit from memory against capacity leased
	// from the shared database in blocks (store.NewReplica). Either way a completed request's usage
	// record is made durable in this server's own usage journal and stored in batches.
	var local *store.Local
	if db.Engine() == "sqlite" {
		local = store.NewLocal(db)
	} else {
		id, err := replicaID(cfg.DataDir)
		if err != nil {
			return err
		}
		local = store.NewReplica(db, id)
	}
	limited := polydev.Store(local)
	recorder := &accounting.Recorder{Store: local, Log: log}
	j, err := openJournal(ctx, cfg.DataDir, local, log)
	if err != nil {
		return err
	}
	cl.add("usage-journal", func(context.Context) error { return j.Close() })
	recorder.Journal, recorder.OnJournaled, local.Barrier = j, local.Journaled, recorder.Flush
	// Journaled records are durable already: below 256 a second they wait (up to 1 s) to share a
	// transaction, whose fixed cost was most of the writer's CPU at one request at a time (a
	// usage row costs 16 µs in batches of 64 and 12 µs in batches of 256: BenchmarkInsertUsage).
	recorder.MinBatch = 256
	if db.Engine() != "sqlite" {
		// What the previous run of this replica leased is given back only now: its journaled
		// records have been stored and have taken their cost off those leases.
		if n, err := local.ReleaseLeases(ctx, local.Replica(), false, time.Now()); err != nil {
			return fmt.Errorf("giving back the leases of this replica's previous run: %w", err)
		} else if n > 0 {
			log.Info("gave back the leases of this replica's previous run", "keys", n)
		}
		local.StartLeases(log)
		// Registered before the recorder, so it runs after it: the last records are stored, then
		// everything leased goes back.
		cl.add("leases", local.StopLeases)
	}
	reg.MustRegister(recorder.Collectors()...)
	recorder.Start()
	// Registered before the HTTP server, so it stops after it: requests drain first, then their
	// usage records are written.
	cl.add("accounting", recorder.Stop)

	vms, err := openVMs(ctx, cfg, db, log, reg, self)
	if err != nil {
		return err
	}
	var vmc polydev.VMController // stays a nil interface when VM support is off
	if vms != nil {
		vmc = vms
		// Registered before the HTTP server, so it closes after it: running VMs are stopped once no
		// request can reach them any more.
		cl.add("vm-controller", vms.Close)
	}

	// The request path reads through short-lived caches; writes through them invalidate at once.
	hot := store.NewCached(limited, 2*time.Second)
	keys := &providerkeys.Service{Store: hot, Vault: vlt, Guard: guard, Private: private}
	prices := &pricing.Table{Store: db}
	rt := &router.Router{
		Store: hot, Keys: keys, Prices: prices, Usage: recorder, Log: log,
		// Two clients, two connection pools: platform keys (and users the operator lets use private
		// upstreams) under the allow list, every other user's own keys under the public-only policy.
		Client:     withCopyConn(guard.Client(upstreamTransport(cfg.UpstreamFirstByte))),
		UserClient: withCopyConn(guard.PublicOnly().Client(upstreamTransport(cfg.UpstreamFirstByte))),
		Timeouts:   router.Timeouts{FirstByte: cfg.UpstreamFirstByte, Idle: cfg.UpstreamIdle},
		Ephemeral:  policy.GatewayEphemeral(hot),
	}
	pages, err := ui.New()
	if err != nil {
		return err
	}
	bill, err := openBilling(cfg, hot, log)
	if err != nil {
		return err
	}
	sessions := startAuthSessions(ctx, cl, hot, vms, vlt, log)
	wcfg := web.Config{
		SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax, MaxBodyBytes: cfg.MaxBodyBytes,
		TrustedOrigins: cfg.TrustedOrigins, TrustedProxies: cfg.TrustedProxies, SignupDisabled: cfg.Signup == "closed", NoVNCDir: cfg.NoVNCDir,
		PublicURL: cfg.PublicURL,
	}
	cfg.Admission.apply(&wcfg)
	srv, err := web.New(wcfg, web.Deps{
		Store: hot, Log: log, Registry: reg,
		Keys: keys, Prices: prices, Router: rt, VMs: vmc, Pages: pages, Mail: mailSender(cfg, log), Billing: bill,
		AuthSessions: sessions,
	})
	if err != nil {
		return err
	}
	// Registered before the HTTP server, so it closes after it: MCP turns answered by the last
	// requests are still kept and mail they queued is still sent.
	cl.add("web", srv.Close)
	if bill != nil {
		startGraceExpirer(ctx, cl, hot, log, srv)
	}

	reservations := &router.Sweeper{Store: limited, Log: log, SingleNode: db.Engine() == "sqlite"}
	reservations.Start(ctx)
	cl.add("reservation-sweeper", func(context.Context) error { reservations.Stop(); return nil })

	rewrap := &vault.Rewrapper{Vault: vlt, Log: log}
	rewrap.Start(ctx)
	cl.add("rewrap", func(context.Context) error { rewrap.Stop(); return nil })

	sweeper := &auth.SessionSweeper{Store: db, Log: log, Idle: cfg.SessionIdle}
	sweeper.Start(ctx)
	cl.add("session-sweeper", func(context.Context) error { sweeper.Stop(); return nil })

	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			return err
		}
		cl.add("pprof", stop)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	self.Set(ln.Addr())
	// Within the connection cap, with header, idle and body deadlines (web.Server.HTTPServer).
	hs, capped := srv.HTTPServer(ln, context.WithoutCancel(ctx), slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(capped) }()
	// Shutdown drains in-flight requests; it runs first among the closers (registered last).
	cl.add("http", hs.Shutdown)
	log.Info("listening", "addr", ln.Addr().String(), "engine", db.Engine(), "version", polydev.Version)

	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", context.Cause(ctx))
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// mailSender is the configured SMTP server as web.Deps wants it: a nil interface when mail is off.
func mailSender(cfg *Config, log *slog.Logger) mail.Sender {
	if cfg.Mail == nil {
		log.Info("mail off: sign-up needs no verification; administrators reset passwords (POLYDEV_SMTP_URL)")
		return nil
	}
	log.Info("mail on: sign-up verifies addresses, passwords can be reset by mail", "smtp", cfg.Mail.String(), "from", cfg.Mail.From(), "public_url", cfg.PublicURL)
	return cfg.Mail
}

// openJournal opens the usage journal in dir and stores what a previous run left in it, before any
// request is taken.
func openJournal(ctx context.Context, dir string, st polydev.UsageStore, log *slog.Logger) (*accounting.Journal, error) {
	j, recs, skipped, err := accounting.OpenJournal(dir)
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		log.Warn("usage journal: bytes after a file's last whole record were skipped (a record torn by a machine crash, or a file's emptying cut short by a crash: its records were stored)", "bytes", skipped)
	}
	if len(recs) > 0 {
		log.Info("usage journal: storing records the previous run left", "records", len(recs))
	}
	for len(recs) > 0 {
		n := min(len(recs), 256)
		if err := st.InsertUsage(ctx, recs[:n]); err != nil {
			j.Close()
			return nil, fmt.Errorf("storing usage records left in the journal: %w", err)
		}
		recs = recs[n:]
	}
	if err := j.Recovered(); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// newTapNetwork builds tap-mode networking: one namespace per VM (vm/netns) whose outer veth ends
// live in the host's namespace, where the pool's addresses are routed. The guest's only way out is
// the egress proxy's address inside its namespace: nothing is forwarded or NATed to the outside,
// so the host needs no setup.
var newTapNetwork = func(_ netip.Prefix, log *slog.Logger) (controller.Network, error) {
	return netns.New(netns.Config{Logger: log, Egress: egress.GuestAddr, DenyEgress: true})
}

// openEgress builds the VMs' egress proxy: public destinations only (plus
// POLYDEV_EGRESS_ALLOW_PRIVATE), never this server's own listener, through the operator's
// upstream proxy when POLYDEV_EGRESS_PROXY is set.
func openEgress(vc VMConfig, self *netguard.Self, log *slog.Logger) (*egress.Proxy, []string, error) {
	guard, err := netguard.ParseAllowList(vc.EgressAllowPrivate)
	if err != nil {
		return nil, nil, fmt.Errorf("POLYDEV_EGRESS_ALLOW_PRIVATE: %w", err)
	}
	p, err := egress.New(egress.Config{Guard: guard.WithSelf(self), Upstream: vc.EgressUpstream, Log: log})
	if err != nil {
		return nil, nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("egress pipe: locating this binary: %w", err)
	}
	log.Info("VM egress proxy", "guest_address", egress.GuestAddr, "upstream", vc.EgressUpstream.String(),
		"private_destinations", guard.String())
	return p, []string{exe, "egress-pipe"}, nil
}

// openVMs builds and starts the VM controller, or returns nil when VM support is off: by
// POLYDEV_VM_DRIVER=off, or by default when qemu-system-x86_64 is not on PATH, no golden image is
// built or the store is PostgreSQL. An explicit driver without what it needs is an error, not a
// silent off.
func openVMs(ctx context.Context, cfg *Config, db *store.DB, log *slog.Logger, reg *prometheus.Registry, self *netguard.Self) (*controller.Controller, error) {
	vc := cfg.VM
	if vc.Driver == "off" {
		log.Info("VM support off", "reason", "POLYDEV_VM_DRIVER=off")
		return nil, nil
	}
	im, imErr := findImage(cfg)
	if vc.Driver == "" && db.Engine() != "sqlite" {
		// The controller owns every VM record of its database, so with PostgreSQL (where several
		// replicas may share one) an operator turns it on, on exactly one replica.
		log.Info("VM support off", "reason", "with PostgreSQL, set POLYDEV_VM_DRIVER on exactly one replica")
		return nil, nil
	}
	if vc.Driver == "" {
		_, qemuErr := exec.LookPath(qemu.DefaultBinary)
		if qemuErr != nil || imErr != nil {
			log.Info("VM support off", "reason", polydev.ErrorMessage(polydev.ErrVMOff), "qemu", qemuErr == nil, "image", imErr == nil)
			return nil, nil
		}
		vc.Driver = "qemu"
	}
	if imErr != nil {
		return nil, fmt.Errorf("POLYDEV_VM_DRIVER=%s: %w", vc.Driver, imErr)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	vmDir, runDir := filepath.Join(dataDir, "vms"), vmRunDir(dataDir)
	driver, err := newDriver(vc, im, vmDir, log)
	if err != nil {
		return nil, err
	}
	ccfg := controller.Config{
		Store: db, Driver: driver, DriverName: vc.Driver, NetMode: vm.NetMode(vc.Net),
		Image: controller.Image{
			ID: im.Hash, KernelPath: im.Vmlinux(), InitrdPath: im.Initrd(), RootImage: im.Rootfs(),
			SnapshotDir: snapshotDir(dataDir),
		},
		RunDir: runDir, VMDir: vmDir, WarmPool: vc.Warm, IdleTimeout: vc.IdleTimeout, HealthTimeout: vc.BootTimeout,
		AfterRestore:    controller.SyncGuest,
		GoldenSettle:    vc.Settle,
		Log:             log,
		RebuildInterval: -1,
	}
	if !vc.Snapshot {
		ccfg.Image.SnapshotDir = ""
	}
	if ccfg.Egress, ccfg.EgressPipe, err = openEgress(vc, self, log); err != nil {
		return nil, err
	}
	if vc.Rebuild > 0 && cfg.VM.Image == "" { // an image the operator named is never replaced
		ccfg.RebuildInterval, ccfg.Rebuild = vc.Rebuild, rebuildImage(cfg, ccfg.Image.SnapshotDir, log)
	}
	if vc.Net == "tap" {
		if ccfg.Pool, ccfg.Network, err = tapNetwork(vc, db, log); err != nil {
			return nil, err
		}
	} else if vc.Driver == "firecracker" {
		return nil, fmt.Errorf("POLYDEV_VM_DRIVER=firecracker needs POLYDEV_VM_NET=tap (Firecracker has no user-mode networking)")
	}
	c, err := controller.New(ccfg)
	if err != nil {
		return nil, err
	}
	if err := c.StartServices(ctx); err != nil {
		return nil, err
	}
	reg.MustRegister(c.Collectors()...)
	reg.MustRegister(ccfg.Egress.Collectors()...)
	log.Info("VM support on", "driver", vc.Driver, "net", vc.Net, "image", im.Dir, "warm", vc.Warm)
	return c, nil
}

// findImage returns POLYDEV_VM_IMAGE's image, or the newest one built under the data directory.
func findImage(cfg *Config) (*image.Image, error) {
	if cfg.VM.Image != "" {
		dir, err := filepath.Abs(cfg.VM.Image)
		if err != nil {
			return nil, err
		}
		return image.Open(dir)
	}
	ims, err := image.List(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if len(ims) == 0 {
		return nil, fmt.Errorf("no golden image under %s: run polydev image build, or set POLYDEV_VM_IMAGE", image.ImagesDir(cfg.DataDir))
	}
	im := ims[0]
	if im.Dir, err = filepath.Abs(im.Dir); err != nil {
		return nil, err
	}
	return im, nil
}

// snapshotDir is the root of the saved golden snapshots: <data>/snapshots, whatever image is used,
// so that an image directory shared with other servers (POLYDEV_VM_IMAGE) is only ever read. The
// controller keys each snapshot by the image, QEMU and machine configuration, and verifies it on load.
func snapshotDir(dataDir string) string { return filepath.Join(dataDir, "snapshots") }

// vmRunDir is where VM sockets live: <data>/run, or a directory under the system's temporary
// directory named from the data directory when that path would not fit a unix socket address.
func vmRunDir(dataDir string) string {
	dir := filepath.Join(dataDir, "run")
	if len(dir)+len("/"+vm.Names("x").Socket) <= 100 {
		return dir
	}
	sum := sha256.Sum256([]byte(dataDir))
	return filepath.Join(os.TempDir(), "polydev-"+hex.EncodeToString(sum[:6]))
}

func newDriver(vc VMConfig, im *image.Image, vmDir string, log *slog.Logger) (vm.Driver, error) {
	name := vc.Driver
	switch name {
	case "qemu":
		// MemoryDir makes every VM snapshot-capable (the golden snapshot and restored clones). With
		// POLYDEV_VM_ACCEL=auto the first boot waits for a probe: the golden kernel under KVM must
		// reach its init within 20 s, which PVM's /dev/kvm never lets it do (DESIGN.md §7).
		return qemu.New(qemu.Config{MemoryDir: vmDir, Log: log, Accel: qemu.Accel(vc.Accel),
			ProbeBoot: qemu.KernelProbe("", im.Vmlinux(), im.Initrd(), 20*time.Second)})
	case "firecracker":
		bin, err := exec.LookPath("firecracker")
		if err != nil {
			return nil, fmt.Errorf("POLYDEV_VM_DRIVER=firecracker: %w", err)
		}
		return firecracker.New(firecracker.Config{Binary: bin, Log: log})
	}
	return nil, fmt.Errorf("POLYDEV_VM_DRIVER: unknown driver %q", name)
}

func tapNetwork(vc VMConfig, db *store.DB, log *slog.Logger) (*netpool.Pool, controller.Network, error) {
	cidr, err := netip.ParsePrefix(vc.PoolCIDR)
	if err != nil {
		return nil, nil, fmt.Errorf("POLYDEV_VM_POOL_CIDR: %w", err)
	}
	pool, err := netpool.New(netpool.Config{CIDR: cidr.String(), Store: store.Leases(db, cidr)})
	if err != nil {
		return nil, nil, fmt.Errorf("POLYDEV_VM_POOL_CIDR: %w", err)
	}
	if newTapNetwork == nil {
		return nil, nil, fmt.Errorf("POLYDEV_VM_NET=tap: tap networking is not available in this build; use POLYDEV_VM_NET=user")
	}
	n, err := newTapNetwork(pool.CIDR(), log)
	if err != nil {
		return nil, nil, fmt.Errorf("POLYDEV_VM_NET=tap: %w", err)
	}
	return pool, n, nil
}

// rebuildImage is the controller's rebuild hook: `polydev image build` in-process. The image is
// content-hashed, so an unchanged recipe returns the existing image and only the snapshot is
// refreshed.
func rebuildImage(cfg *Config, snapshotDir string, log *slog.Logger) func(context.Context) (*controller.Image, error) {
	return func(ctx context.Context) (*controller.Image, error) {
		agent, err := findAgent("")
		if err != nil {
			return nil, err
		}
		src, err := image.HostSources("/")
		if err != nil {
			return nil, err
		}
		im, err := image.Build(ctx, image.DefaultRecipe(src, agent), cfg.DataDir, log)
		if err != nil {
			return nil, err
		}
		dir, err := filepath.Abs(im.Dir)
		if err != nil {
			return nil, err
		}
		im.Dir = dir
		return &controller.Image{ID: im.Hash, KernelPath: im.Vmlinux(), InitrdPath: im.Initrd(), RootImage: im.Rootfs(),
			SnapshotDir: snapshotDir}, nil
	}
}

// upstreamTransport is tuned for many concurrent long-lived streams to a few provider hosts: a large
// idle pool (per host: most traffic goes to one or two), bounded TLS handshakes and waits for an
// answer's first byte (POLYDEV_UPSTREAM_FIRST_BYTE_TIMEOUT), HTTP/2 where the provider offers it (netguard forces the attempt), and no
// transparent compression (the relay copies bytes; gzip would cost CPU on every answer).
func upstreamTransport(firstByte time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 512
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = firstByte + time.Minute // a backstop: the router bounds the wait itself (router.Timeouts)
	t.ExpectContinueTimeout = 0                       // no Expect: 100-continue is ever sent
	t.DisableCompression = true
	t.MaxResponseHeaderBytes = 1 << 20 // an upstream cannot make the server buffer headers without end
	t.WriteBufferSize = 16 << 10
	t.ReadBufferSize = 16 << 10
	return t
}
