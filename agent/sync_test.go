package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeSystem records what a Syncer did to the "guest".
type fakeSystem struct {
	clock    time.Time
	seeds    [][]byte
	clockErr error
	how      string
}

func (f *fakeSystem) syncer() *Syncer {
	return &Syncer{
		Now:      func() time.Time { return f.clock },
		SetClock: func(t time.Time) error { f.clock = t; return f.clockErr },
		AddEntropy: func(seed []byte) (string, error) {
			f.seeds = append(f.seeds, bytes.Clone(seed))
			return f.how, nil
		},
		LocalAddrs: func() ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("10.0.2.15"), netip.MustParseAddr("fe80::1")}, nil
		},
	}
}

var (
	hostNow  = time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)
	testSeed = bytes.Repeat([]byte{7}, SeedLen)
)

func syncBody(nanos int64, seed []byte) string {
	return `{"unixNanos":` + strconv.FormatInt(nanos, 10) + `,"seed":"` + base64.StdEncoding.EncodeToString(seed) + `"}`
}

func TestSyncRequests(t *testing.T) {
	t.Parallel()
	good := syncBody(hostNow.UnixNano(), testSeed)
	cases := []struct {
		name, peer, ctype, body string
		want                    int
	}{
		{"host through the user-net gateway", "10.0.2.2:40000", "application/json", good, http.StatusOK},
		{"host over TAP", "172.16.0.1:40000", "application/json; charset=utf-8", good, http.StatusOK},
		{"guest loopback", "127.0.0.1:40000", "application/json", good, http.StatusForbidden},
		{"guest loopback v6", "[::1]:40000", "application/json", good, http.StatusForbidden},
		{"guest's own address", "10.0.2.15:40000", "application/json", good, http.StatusForbidden},
		{"guest's own address, v4-mapped", "[::ffff:10.0.2.15]:40000", "application/json", good, http.StatusForbidden},
		{"guest's link-local", "[fe80::1]:40000", "application/json", good, http.StatusForbidden},
		{"unparsable peer", "somewhere", "application/json", good, http.StatusForbidden},
		{"form post from a page", "10.0.2.2:1", "text/plain", good, http.StatusUnsupportedMediaType},
		{"no content type", "10.0.2.2:1", "", good, http.StatusUnsupportedMediaType},
		{"not json", "10.0.2.2:1", "application/json", "unixNanos=1", http.StatusBadRequest},
		{"unknown field", "10.0.2.2:1", "application/json", `{"unixNanos":1,"seed":"","x":1}`, http.StatusBadRequest},
		{"zero time", "10.0.2.2:1", "application/json", syncBody(0, testSeed), http.StatusBadRequest},
		{"far future", "10.0.2.2:1", "application/json", syncBody(maxSyncTime.UnixNano(), testSeed), http.StatusBadRequest},
		{"short seed", "10.0.2.2:1", "application/json", syncBody(hostNow.UnixNano(), testSeed[:31]), http.StatusBadRequest},
		{"no seed", "10.0.2.2:1", "application/json", `{"unixNanos":` + strconv.FormatInt(hostNow.UnixNano(), 10) + `}`, http.StatusBadRequest},
		{"bad base64", "10.0.2.2:1", "application/json", `{"unixNanos":1,"seed":"!!"}`, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sys := &fakeSystem{clock: hostNow.Add(-time.Hour), how: EntropyCredited}
			h := NewHandler(fixedSource{}, Endpoints{Sync: sys.syncer()}, nil)
			req := httptest.NewRequest(http.MethodPost, "/sync", strings.NewReader(c.body))
			req.RemoteAddr = c.peer
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			if c.want != http.StatusOK {
				if len(sys.seeds) != 0 || !sys.clock.Equal(hostNow.Add(-time.Hour)) {
					t.Fatalf("a refused request changed the guest: clock %v, seeds %d", sys.clock, len(sys.seeds))
				}
				var e struct {
					Error struct{ Message, Code string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
					t.Fatalf("error body %q is not the one JSON shape", rec.Body)
				}
				return
			}
			var resp SyncResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if !sys.clock.Equal(hostNow) || len(sys.seeds) != 1 || !bytes.Equal(sys.seeds[0], testSeed) {
				t.Fatalf("guest clock %v, seeds %v", sys.clock, sys.seeds)
			}
			if resp.PreviousUnixNanos != hostNow.Add(-time.Hour).UnixNano() || resp.UnixNanos != hostNow.UnixNano() || resp.Entropy != EntropyCredited {
				t.Fatalf("response %+v", resp)
			}
		})
	}
}

func TestSyncFailuresAreGeneric500s(t *testing.T) {
	t.Parallel()
	sys := &fakeSystem{clock: hostNow, clockErr: errors.New("clock_settime: operation not permitted")}
	s := sys.syncer()
	srv := hostSide(t, NewHandler(fixedSource{}, Endpoints{Sync: s}, nil))
	_, err := Sync(t.Context(), srv.Client(), srv.URL, hostNow, testSeed)
	if err == nil || !strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "clock_settime") {
		t.Fatalf("Sync = %v, want a generic 500 that does not show the cause", err)
	}
	s.LocalAddrs = func() ([]netip.Addr, error) { return nil, errors.New("no netlink") }
	if _, err := Sync(t.Context(), srv.Client(), srv.URL, hostNow, testSeed); err == nil {
		t.Fatal("Sync succeeded although the agent could not tell the guest's addresses (must fail closed)")
	}
}

func TestSyncWithoutSyncerIs404(t *testing.T) {
	t.Parallel()
	srv := hostSide(t, NewHandler(fixedSource{}, Endpoints{}, nil))
	if _, err := Sync(t.Context(), srv.Client(), srv.URL, hostNow, testSeed); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Sync = %v, want 404", err)
	}
}

// TestSyncHelper drives the host's helper against the handler, seen from the host's side of a forward.
func TestSyncHelper(t *testing.T) {
	t.Parallel()
	sys := &fakeSystem{clock: hostNow.Add(-90 * time.Second), how: EntropyMixed}
	srv := hostSide(t, NewHandler(fixedSource{}, Endpoints{Sync: sys.syncer()}, nil))
	resp, err := Sync(t.Context(), srv.Client(), srv.URL, hostNow, testSeed)
	if err != nil {
		t.Fatal(err)
	}
	if time.Unix(0, resp.UnixNanos).Sub(time.Unix(0, resp.PreviousUnixNanos)) != 90*time.Second || resp.Entropy != EntropyMixed {
		t.Fatalf("response %+v", resp)
	}
	if _, err := Sync(t.Context(), srv.Client(), srv.URL, hostNow, testSeed[:8]); err == nil {
		t.Fatal("Sync sent a short seed")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Sync(ctx, srv.Client(), srv.URL, hostNow, testSeed); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Sync = %v", err)
	}
}

// hostSide serves h as if every request came through the VMM's forward from the host (10.0.2.2).
func hostSide(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "10.0.2.2:40000"
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// FuzzSyncBody: whatever the host side sends, /sync answers 200 or a 4xx in the one error shape, and
// changes the guest only when it answers 200.
func FuzzSyncBody(f *testing.F) {
	f.Add(syncBody(hostNow.UnixNano(), testSeed))
	f.Add(`{"unixNanos":-1,"seed":null}`)
	f.Add(`{"unixNanos":1e30}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		sys := &fakeSystem{clock: hostNow.Add(-time.Hour), how: EntropyCredited}
		h := NewHandler(fixedSource{}, Endpoints{Sync: sys.syncer()}, nil)
		req := httptest.NewRequest(http.MethodPost, "/sync", strings.NewReader(body))
		req.RemoteAddr = "10.0.2.2:40000"
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		changed := len(sys.seeds) > 0 || !sys.clock.Equal(hostNow.Add(-time.Hour))
		switch {
		case rec.Code == http.StatusOK:
			if len(sys.seeds) != 1 || len(sys.seeds[0]) != SeedLen {
				t.Fatalf("200 with seeds %v", sys.seeds)
			}
		case rec.Code >= 400 && rec.Code < 500:
			if changed {
				t.Fatalf("%d but the guest changed", rec.Code)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
