package controller

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/polydev/polydev/agent"
)

// TestSyncGuest: the hook reaches the agent through the VM's dialer only, sends the host's time and
// a fresh 32-byte seed, and turns the agent's refusal into an error.
func TestSyncGuest(t *testing.T) {
	var got []agent.SyncRequest
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req agent.SyncRequest
		if r.Method != http.MethodPost || r.URL.Path != "/sync" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		got = append(got, req)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"message":"refused","code":"x"},"entropy":"credited"}`))
	}))
	defer srv.Close()
	var ports []uint16
	dial := func(ctx context.Context, port uint16) (net.Conn, error) {
		ports = append(ports, port)
		return (&net.Dialer{}).DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}
	before := time.Now()
	if err := SyncGuest(t.Context(), "vm-1", dial); err != nil {
		t.Fatal(err)
	}
	if err := SyncGuest(t.Context(), "vm-1", dial); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(ports) != 2 || ports[0] != 3000 {
		t.Fatalf("requests %d, ports %v", len(got), ports)
	}
	if at := time.Unix(0, got[0].UnixNanos); at.Before(before) || at.After(time.Now()) {
		t.Errorf("sent time %v, not the host's now", at)
	}
	if len(got[0].Seed) != agent.SeedLen || string(got[0].Seed) == string(got[1].Seed) {
		t.Errorf("seeds %x and %x: want two different %d-byte seeds", got[0].Seed, got[1].Seed, agent.SeedLen)
	}
	status = http.StatusForbidden
	if err := SyncGuest(t.Context(), "vm-1", dial); err == nil {
		t.Error("a refused sync passed")
	}
}
