package main

import (
	"context"
	"log/slog"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/authsession"
	"github.com/polydev/polydev/vault"
	"github.com/polydev/polydev/vm/controller"
)

// startAuthSessions runs browser login sessions when VM support is on (nil otherwise). Called
// after the VM controller's closer is registered, so the sessions stop first: they end and reap
// their VMs while the controller still runs. Each session's allow-list goes to the controller's
// egress proxy when it has one.
func startAuthSessions(ctx context.Context, cl *closers, st polydev.Store, vms *controller.Controller, vlt *vault.Vault, log *slog.Logger) *authsession.Service {
	if vms == nil {
		return nil
	}
	cfg := authsession.Config{Store: st, VMs: vms, Vault: vlt, Log: log}
	// With the controller's egress off, sessions run without a way out and say so in the log.
	if p := vms.Egress(); p != nil {
		cfg.Egress = authsession.ProxyEgress{Proxy: p}
	}
	s := authsession.New(cfg)
	s.Start(ctx)
	cl.add("auth-sessions", func(context.Context) error { s.Stop(); return nil })
	return s
}
