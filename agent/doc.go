// Package agent is the guest side of a Polydev browser microVM: a small process supervisor that brings
// up the display (Xvfb), x11vnc (guest loopback only), websockify (the agent's own WebSocket relay to
// x11vnc, on the one port the host reaches through the VMM's forward) and the browser (Chromium, DevTools on guest loopback only), in that order, each
// waiting for the previous one to be ready; it restarts crashed children with backoff, gives up on a
// child that crashes too often, and reports all of it over GET /health and GET /ready.
//
// It also owns the guest end of a browser login session, every part host-only by source address
// (hostonly.go): the clock and entropy refresh after a snapshot restore (POST /sync, sync.go), the
// per-clone token the host sets after restoring (POST /token, token.go), the CLI login runner that
// runs a coding CLI's own login under a pty with the running Chromium as its browser and hands its
// credential file back once (/login, login.go, providers.go, opener.go), and the DevTools autofill
// (POST /credentials, devtools.go); client.go is the host's side of each. It must not touch anything
// outside the guest: no network calls of its own (the CLIs and the browser go through the egress
// proxy), no persistence of credentials, no knowledge of the host's API beyond these endpoints.
package agent
