package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/accounting"
	"github.com/polydev/polydev/auth"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/policy"
	"github.com/polydev/polydev/pricing"
	"github.com/polydev/polydev/providerkeys"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/vault"
	"github.com/polydev/polydev/web"
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
	log := cfg.logger(stderr)
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
	log.Info("upstream policy", "private_destinations", guard.String())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	recorder := &accounting.Recorder{Store: db, Log: log}
	reg.MustRegister(recorder.Collectors()...)
	recorder.Start()
	// Registered before the HTTP server, so it stops after it: requests drain first, then their
	// usage records are written.
	cl.add("accounting", recorder.Stop)

	// The request path reads through short-lived caches; writes through them invalidate at once.
	hot := store.NewCached(db, 2*time.Second)
	keys := &providerkeys.Service{Store: hot, Vault: vlt, Guard: guard}
	prices := &pricing.Table{Store: db}
	rt := &router.Router{
		Store: hot, Keys: keys, Prices: prices, Usage: recorder, Log: log,
		Client: guard.Client(upstreamTransport()), Ephemeral: policy.GatewayEphemeral(hot),
	}
	srv, err := web.New(web.Config{
		SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax, MaxBodyBytes: cfg.MaxBodyBytes,
		TrustedOrigins: cfg.TrustedOrigins, SignupDisabled: cfg.Signup == "closed",
	}, web.Deps{
		Store: hot, Log: log, Registry: reg,
		Keys: keys, Prices: prices, Router: rt,
	})
	if err != nil {
		return err
	}

	reservations := &router.Sweeper{Store: db, Log: log, SingleNode: db.Engine() == "sqlite"}
	reservations.Start(ctx)
	cl.add("reservation-sweeper", func(context.Context) error { reservations.Stop(); return nil })

	rewrap := &vault.Rewrapper{Vault: vlt, Log: log}
	rewrap.Start(ctx)
	cl.add("rewrap", func(context.Context) error { rewrap.Stop(); return nil })

	sweeper := &auth.SessionSweeper{Store: db, Log: log, Idle: cfg.SessionIdle}
	sweeper.Start(ctx)
	cl.add("session-sweeper", func(context.Context) error { sweeper.Stop(); return nil })

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
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

// upstreamTransport is tuned for many concurrent long-lived streams to a few provider hosts.
func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 512
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 5 * time.Minute // a slow model may think a long time before its first byte
	return t
}
