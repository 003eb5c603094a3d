// Package agent is the guest side of a Polydev browser microVM: a small process supervisor that brings
// up the display (Xvfb), x11vnc (guest loopback only), websockify (the one port the host reaches through
// the VMM's forward) and the browser (Chromium, DevTools on guest loopback only), in that order, each
// waiting for the previous one to be ready; it restarts crashed children with backoff, gives up on a
// child that crashes too often, and reports all of it over GET /health and GET /ready.
//
// It also owns the guest end of the credential hand-back: POST /credentials, guarded by a one-time token
// set at boot (see credentials.go), and the clock and entropy refresh after a snapshot restore: POST
// /sync, host-only by source address, with Sync as the host's client (see sync.go). It must not touch
// anything outside the guest: no network calls of its own, no persistence of credentials, no
// knowledge of the host's API.
package agent
