// Command polydev-agent runs inside every browser microVM, started by the guest's init. It supervises
// the display (Xvfb), the browser (Chromium, DevTools on guest loopback), x11vnc (guest loopback) and
// websockify (the one port the host reaches), serves GET /health and GET /ready on port 3000, and the
// one-time-token credential hand-back (POST /credentials). Flags win over POLYDEV_AGENT_* environment
// variables; see -h. It is pure Go and builds static with CGO_ENABLED=0.
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
	"os/signal"
	"syscall"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/agent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "polydev-agent:", err)
		}
		os.Exit(2)
	}
}

// run is the whole program; tests call it with their own args, environment and context.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.Version {
		fmt.Fprintln(stdout, "polydev-agent", polydev.Version)
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	specs, err := agent.DefaultSpecs(cfg.Stack)
	if err != nil {
		return err
	}
	sup, err := agent.New(agent.Config{Specs: specs, Logger: log, GracePeriod: cfg.Grace})
	if err != nil {
		return err
	}
	gate, err := credentialGate(cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           agent.NewHandler(sup, gate, agent.NewSyncer(), log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	log.Info("polydev-agent starting", "version", polydev.Version, "listen", ln.Addr().String())

	// Health answers ("starting") while the stack comes up, so the server goes first.
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	sup.Start(ctx)

	select {
	case <-ctx.Done():
		err = nil
	case err = <-served:
	}
	log.Info("polydev-agent stopping")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	sup.Stop()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// credentialGate loads the boot-time token; without one, POST /credentials answers 404.
func credentialGate(cfg config, log *slog.Logger) (*agent.CredentialGate, error) {
	token, err := agent.LoadToken(cfg.TokenFile, cfg.Cmdline)
	if err != nil {
		return nil, fmt.Errorf("one-time token: %w", err)
	}
	if token == "" {
		log.Info("no one-time token: credential hand-back disabled")
	}
	// The sink that types credentials into the page over DevTools is not written yet: accepted
	// credentials are dropped, never logged.
	return agent.NewCredentialGate(token, nil)
}
