// Package agent is the guest side of a Polydev browser microVM: a small process supervisor that brings
// up the display (Xvfb), the browser (Chromium, DevTools on guest loopback only), x11vnc (guest loopback
// only) and websockify (the one port the host reaches through the VMM's forward), in that order, each
// waiting for the previous one to be ready; it restarts crashed children with backoff, gives up on a
// child that crashes too often, and reports all of it over GET /health and GET /ready.
//
// It also owns the guest end of the credential hand-back: POST /credentials, guarded by a one-time token
// set at boot (see credentials.go). It must not touch anything outside the guest: no network calls of
// its own, no persistence of credentials, no knowledge of the host's API.
package agent
