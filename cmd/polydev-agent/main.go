// Command polydev-agent runs inside every browser microVM, started by the guest's init. It supervises
// the display (Xvfb), the browser (Chromium, DevTools on guest loopback), x11vnc (guest loopback) and
// websockify (the one port the host reaches), serves GET /health and GET /ready on port 3000, the
// clock refresh after a restore (POST /sync), the per-clone token (POST /token) and, behind it, the
// CLI login runner (/login) and the DevTools autofill (POST /credentials). Run as xdg-open or
// polydev-open it is instead the login runner's browser helper. Flags win over POLYDEV_AGENT_*
// environment variables; see -h. It is pure Go and builds static with CGO_ENABLED=0.
//
// It imports nothing of the root polydev package: the golden image's hash covers this binary, so a
// change anywhere in the server must not change it (and force an image rebuild).
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
	"strconv"
	"syscall"
	"time"

	"github.com/polydev/polydev/agent"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultEgressProxy is the fixed guest address of the session's egress proxy (user networking: a
// guestfwd; TAP: forwarded by the VM's network namespace).
const defaultEgressProxy = "10.0.2.100:3128"

func main() {
	if agent.IsOpener(os.Args[0]) {
		os.Exit(agent.RunOpener(os.Args[1:], os.Getenv, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == selftestCommand {
		os.Exit(runSelftest(os.Args[2:], os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == agent.WebsockifyCommand {
		code := runWebsockify(ctx, os.Args[2:], os.Stderr)
		stop()
		os.Exit(code)
	}
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
		fmt.Fprintln(stdout, "polydev-agent", version)
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	cliEnv, selftestIssuer, err := guestNetwork(&cfg, log)
	if err != nil {
		return err
	}
	providers := agent.DefaultProviders()
	if selftestIssuer != "" {
		p, err := selftestProvider(selftestIssuer)
		if err != nil {
			return err
		}
		providers[p.Name] = p
		log.Info("self-test login provider enabled", "issuer", selftestIssuer)
	}
	if cfg.Stack.WebsockifySelf, err = websockifySelf(cfg.Stack.WebsockifyPath); err != nil {
		return err
	}
	specs, err := agent.DefaultSpecs(cfg.Stack)
	if err != nil {
		return err
	}
	sup, err := agent.New(agent.Config{Specs: specs, Logger: log, GracePeriod: cfg.Grace})
	if err != nil {
		return err
	}
	browser := agent.DevTools{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Stack.DevToolsPort))}
	login, err := agent.NewLogin(agent.LoginConfig{
		Providers: providers, Home: cfg.Home, Open: browser.Open, Log: log,
		Env: append(cliEnv, "DISPLAY=:"+strconv.Itoa(cfg.Stack.Display)),
	})
	if err != nil {
		return err
	}
	defer login.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	endpoints := agent.Endpoints{Token: &agent.TokenGate{}, Sync: agent.NewSyncer(), Login: login, Fill: fillWithin(browser.Autofill, 150*time.Second)}
	srv := &http.Server{
		Handler:           agent.NewHandler(sup, endpoints, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      3 * time.Minute, // the autofill waits for the page (fillWithin answers first)
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	log.Info("polydev-agent starting", "version", version, "listen", ln.Addr().String(), "egress", cfg.Stack.ProxyServer)

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

// guestNetwork settles the egress proxy and an extra CA from the flags and the kernel command line,
// puts them into the browser's options and returns the CLIs' environment for them, and the self-test
// issuer (polydev.selftest=) if the host named one.
func guestNetwork(cfg *config, log *slog.Logger) (env []string, selftestIssuer string, err error) {
	var cmdline string
	if cfg.Cmdline != "" {
		b, err := os.ReadFile(cfg.Cmdline)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, "", err
		}
		cmdline = string(b)
	}
	proxy := cfg.EgressProxy
	if proxy == "" {
		proxy = agent.CmdlineValue(cmdline, "polydev.egress")
	}
	if proxy == "" {
		proxy = defaultEgressProxy
	}
	if proxy != "off" {
		if _, _, err := net.SplitHostPort(proxy); err != nil {
			return nil, "", fmt.Errorf("egress proxy %q: want host:port", proxy)
		}
		cfg.Stack.ProxyServer = proxy
		u := "http://" + proxy
		env = append(env, "HTTPS_PROXY="+u, "https_proxy="+u, "HTTP_PROXY="+u, "http_proxy="+u,
			"NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1")
	}
	if v := agent.CmdlineValue(cmdline, "polydev.ca"); v != "" {
		ca, err := agent.ParseCA(v)
		if err != nil {
			return nil, "", err
		}
		t, err := agent.InstallCA(ca, cfg.StateDir, agent.SystemBundle)
		if err != nil {
			return nil, "", fmt.Errorf("extra CA: %w", err)
		}
		cfg.Stack.TrustSPKI = append(cfg.Stack.TrustSPKI, t.SPKI)
		env = append(env, t.Env()...)
		log.Info("trusting an extra CA from the kernel command line", "subject", ca.Subject.String(), "spki", t.SPKI)
	}
	return env, agent.CmdlineValue(cmdline, "polydev.selftest"), nil
}

// fillWithin bounds one autofill (a form that never appears, a page that hangs) so that it answers
// with an error before the server's write deadline and the host's 3-minute wait run out.
func fillWithin(fill agent.CredentialSink, d time.Duration) agent.CredentialSink {
	return func(ctx context.Context, c agent.Credentials) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return fill(ctx, c)
	}
}
