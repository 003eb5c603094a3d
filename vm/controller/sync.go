package controller

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/agent"
)

// SyncGuest is the AfterRestore hook for guests running polydev-agent: every clone of a snapshot
// wakes with the snapshot's clock and the snapshot's entropy pool, so it sends the host's time and a
// fresh crypto/rand seed to the agent's POST /sync before anyone else talks to the guest. Two clones
// would otherwise generate the same "random" numbers, TLS keys included.
func SyncGuest(ctx context.Context, id string, dial DialFunc) error {
	seed := make([]byte, agent.SeedLen)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	defer clear(seed)
	client := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, polydev.VMPortAgent) },
		DisableKeepAlives: true,
	}}
	// The agent is already running in a restored guest: a short bound is enough, and a guest that
	// cannot answer it counts as a failed restore (the controller then cold-boots).
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := agent.Sync(ctx, client, "http://agent", time.Now(), seed)
	return err
}
