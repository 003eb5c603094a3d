package main

import (
	"bufio"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/polydev/polydev/internal/pgtest"
	"github.com/polydev/polydev/internal/testkit"
)

// setupGateway prepares a server through p: an admin, a price, a platform key on the fake upstream with
// the given monthly budget (dollars; 0 = none), a pro user with ephemeral mode off and no tier request
// limits, and returns that user's API token.
func setupGateway(t *testing.T, c client, dataDir string, up *testkit.Upstream, budget float64, extraEnv []string) string {
	t.Helper()
	bin, _ := binary()
	for _, args := range [][]string{
		{"user", "create", "--email", "admin@example.com", "--admin", "admin-password-1"},
		{"user", "create", "--email", "user@example.com", "--tier", "pro", "user-password-01"},
	} {
		cmd := exec.Command(bin, args[:len(args)-1]...)
		cmd.Stdin = strings.NewReader(args[len(args)-1] + "\n") // passwords never go in argv
		cmd.Env = append(append(os.Environ(), "POLYDEV_DATA_DIR="+dataDir), extraEnv...)
		if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "already exists") {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	h, _ := c.want(200, "POST", "/api/account/login", `{"email":"admin@example.com","password":"admin-password-1"}`)
	admin := cookieOf(t, h)
	c.want(200, "PUT", "/api/admin/pricing", `{"prices":[{"model":"openai/acct-model","inputPerMTok":1,"outputPerMTok":1}]}`, "Cookie", admin)
	key := map[string]any{"action": "add_key", "provider": "openai", "apiKey": up.Key, "baseUrl": up.BaseURL()}
	if budget > 0 {
		key["monthlyBudget"] = budget
	}
	kb, _ := json.Marshal(key)
	c.want(201, "POST", "/api/admin/providers", string(kb), "Cookie", admin)
	c.want(200, "PUT", "/api/admin/tier-limits", `{"tierLimits":[{"tier":"pro","requestsPerDay":null,"requestsPerMinute":null,"allowedModels":[],"byok":"available","ephemeral":"default_on","platformKeys":true,"maxVms":3}]}`, "Cookie", admin)
	h, _ = c.want(200, "POST", "/api/account/login", `{"email":"user@example.com","password":"user-password-01"}`)
	user := cookieOf(t, h)
	c.want(200, "PUT", "/api/security/settings", `{"ephemeralMode":false}`, "Cookie", user)
	_, body := c.want(201, "POST", "/api/account/tokens", `{"name":"load"}`, "Cookie", user)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// TestBudgetAcrossReplicas: two `polydev serve` processes share one PostgreSQL; 200 parallel requests
// split between them hit a key whose budget covers 50. Each replica admits from capacity it leased
// from the database; spend never exceeds the budget (max_tokens is sent, so the documented
// overshoot bound is zero; leasing adds none), exactly the admitted requests reached the upstream,
// and once the replicas stop the database holds exactly what was used.
func TestBudgetAcrossReplicas(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	env := []string{"POLYDEV_DATABASE_URL=" + dbURL, "POLYDEV_MASTER_KEY=" + base64.StdEncoding.EncodeToString(master),
		"POLYDEV_ALLOW_PRIVATE_UPSTREAMS=127.0.0.0/8"}
	up := testkit.NewOpenAI(t, testkit.WithScript(testkit.Script{Text: "ok", Usage: testkit.Usage{PromptTokens: 10, CompletionTokens: 10}}))
	a := startServe(t, t.TempDir(), env...)
	b := startServe(t, t.TempDir(), env...)
	token := setupGateway(t, client{t, a.base}, t.TempDir(), up, 0.001, env) // 1000 µ$; a request costs 20 µ$

	body := `{"model":"openai/acct-model","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		base := a.base
		if i%2 == 1 {
			base = b.base
		}
		wg.Go(func() {
			req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			rb, _ := io.ReadAll(res.Body)
			res.Body.Close()
			switch res.StatusCode {
			case 200:
				ok.Add(1)
			case 402:
				refused.Add(1)
			default:
				t.Errorf("status %d: %s", res.StatusCode, rb)
			}
		})
	}
	wg.Wait()
	if ok.Load() == 0 || ok.Load()+refused.Load() != 200 || int64(up.RequestCount()) != ok.Load() {
		t.Fatalf("admitted %d, refused %d, upstream saw %d", ok.Load(), refused.Load(), up.RequestCount())
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var spend, reserved, inFlight, leases, recorded int64
	read := func() {
		t.Helper()
		if err := db.QueryRow(`SELECT month_spend_micros, month_reserved_micros, in_flight FROM provider_keys`).Scan(&spend, &reserved, &inFlight); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT COALESCE(SUM(cost_micros), 0) FROM usage_records WHERE status = 'ok'`).Scan(&recorded); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT COUNT(*) FROM limit_leases`).Scan(&leases); err != nil {
			t.Fatal(err)
		}
	}
	// While the replicas run, what they leased counts as reserved: spend and reserved together
	// stay within the budget.
	read()
	if spend+reserved > 1000 {
		t.Fatalf("running: spend %d + reserved %d exceed the budget of 1000", spend, reserved)
	}
	// Stopped, each has stored its records and given its leases back: the database holds exactly
	// what was used.
	for _, p := range []*proc{a, b} {
		stopServe(t, p)
	}
	read()
	if spend > 1000 || recorded != spend || spend != ok.Load()*20 || reserved != 0 || inFlight != 0 || leases != 0 {
		t.Fatalf("spend %d (records %d) for %d admitted; reserved %d, in flight %d, %d lease rows; budget 1000",
			spend, recorded, ok.Load(), reserved, inFlight, leases)
	}
	t.Logf("two replicas: %d admitted, %d refused, spend %d of 1000 µ$", ok.Load(), refused.Load(), spend)
}

// stopServe stops a server as an operator would (SIGTERM) and waits for it to exit.
func stopServe(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop within 60s:\n%s", p.logs)
	}
	if p.err != nil {
		t.Fatalf("serve exited with %v:\n%s", p.err, p.logs)
	}
}

// TestKillDuringStreams: kill -9 the server while streams are in flight, restart it: every stream the
// client saw complete has its usage record, and nothing is left holding budget (no reservation; on
// PostgreSQL no lease either). On both engines: SQLite, and PostgreSQL as one replica of many.
func TestKillDuringStreams(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		testKillDuringStreams(t, dir, nil, func() (*sql.DB, error) {
			return sql.Open("sqlite", "file:"+filepath.Join(dir, "data", "polydev.db")+"?_pragma=busy_timeout(10000)")
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dbURL := pgtest.URL(t)
		testKillDuringStreams(t, t.TempDir(), []string{"POLYDEV_DATABASE_URL=" + dbURL}, func() (*sql.DB, error) { return sql.Open("pgx", dbURL) })
	})
}

func testKillDuringStreams(t *testing.T, dir string, extraEnv []string, openDB func() (*sql.DB, error)) {
	env := append([]string{"POLYDEV_ALLOW_PRIVATE_UPSTREAMS=127.0.0.0/8"}, extraEnv...)
	up := testkit.NewOpenAI(t, testkit.WithScript(testkit.Script{Text: strings.Repeat("w ", 20), Usage: testkit.Usage{PromptTokens: 10, CompletionTokens: 20}}),
		testkit.WithTokenDelay(5*time.Millisecond))
	p := startServe(t, dir, env...)
	token := setupGateway(t, client{t, p.base}, filepath.Join(dir, "data"), up, 10, env)

	body := `{"model":"openai/acct-model","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	var completed atomic.Int64
	var wg sync.WaitGroup
	started := make(chan struct{}, 64)
	stop := make(chan struct{})
	for i := range 60 {
		wg.Go(func() {
			// Streams start in a steady trickle, so that at the kill some have completed and some
			// are mid-way.
			select {
			case <-time.After(time.Duration(i) * 10 * time.Millisecond):
			case <-stop:
				return
			}
			req, _ := http.NewRequest("POST", p.base+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return // the server died before answering
			}
			defer res.Body.Close()
			started <- struct{}{}
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				if sc.Text() == "data: [DONE]" {
					completed.Add(1)
					return
				}
			}
		})
	}
	for range 30 { // kill while streams are running: some done, some mid-way
		<-started
	}
	close(stop)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	wg.Wait()

	p2 := startServe(t, dir, env...)
	_ = p2
	db, err := openDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var okRecords, interrupted, reservations, reserved, inFlight, leases int64
	q := func(query string, dst *int64) {
		if err := db.QueryRow(query).Scan(dst); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	q(`SELECT COUNT(*) FROM usage_records WHERE status = 'ok'`, &okRecords)
	q(`SELECT COUNT(*) FROM usage_records WHERE status = 'interrupted'`, &interrupted)
	q(`SELECT COUNT(*) FROM reservations`, &reservations)
	q(`SELECT month_reserved_micros FROM provider_keys`, &reserved)
	q(`SELECT in_flight FROM provider_keys`, &inFlight)
	q(`SELECT COUNT(*) FROM limit_leases`, &leases)
	if okRecords < completed.Load() {
		t.Fatalf("%d streams completed for the client but only %d records survived the kill", completed.Load(), okRecords)
	}
	if reservations != 0 || reserved != 0 || inFlight != 0 || leases != 0 {
		t.Fatalf("after restart: %d reservations, %d µ$ reserved, %d in flight, %d lease rows", reservations, reserved, inFlight, leases)
	}
	t.Logf("kill -9: %d completed streams, %d ok records, %d interrupted settled at restart", completed.Load(), okRecords, interrupted)
}
