package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polydev/polydev/providerkeys"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/vault"
)

// TestKeysRotation drives master key rotation through the CLI while the server runs: rotate, rewrap,
// status, retire; the BYOK key stored before the rotation still decrypts after the old version is gone.
func TestKeysRotation(t *testing.T) {
	t.Parallel()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cliIn := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "POLYDEV_DATA_DIR="+data)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("polydev %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cli := func(args ...string) string { t.Helper(); return cliIn("", args...) }
	cliIn("rotation-password-1\n", "user", "create", "--email", "rot@example.com", "--tier", "plus")

	p := startServe(t, dir)
	if !strings.Contains(p.logs.String(), "GENERATED A NEW MASTER KEY") {
		t.Fatalf("first start did not warn about the generated master key:\n%s", p.logs)
	}
	if fi, err := os.Stat(filepath.Join(data, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v %v", fi, err)
	}
	c := client{t, p.base}
	h, _ := c.want(200, "POST", "/api/account/login", `{"email":"rot@example.com","password":"rotation-password-1"}`)
	cookie := cookieOf(t, h)
	_, body := c.want(201, "POST", "/api/api-keys", `{"provider":"openai","apiKey":"sk-rotation-canary-1234"}`, "Cookie", cookie)
	var created struct{ Key struct{ ID string } }
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}

	if out := cli("keys", "status"); !strings.Contains(out, "active master key: v1") || !strings.Contains(out, "v1: 1 data keys") {
		t.Fatalf("status before rotation:\n%s", out)
	}
	cli("keys", "rotate")
	if out := cli("keys", "status"); !strings.Contains(out, "active master key: v2") || !strings.Contains(out, "v1: 1 data keys") {
		t.Fatalf("status after rotation:\n%s", out)
	}
	// The running server keeps working across the rotation; a new user's data key uses v2 once the
	// server has reloaded the key file, and v1 ones until then; either way nothing fails.
	c.want(201, "POST", "/api/api-keys", `{"provider":"anthropic","apiKey":"sk-ant-after-rotate-1"}`, "Cookie", cookie)

	cmd := exec.Command(bin, "keys", "retire", "--version", "1")
	cmd.Env = append(os.Environ(), "POLYDEV_DATA_DIR="+data)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "rewrap") {
		t.Fatalf("retire with data keys still on v1 must fail and say why: %v\n%s", err, out)
	}
	if out := cli("keys", "rewrap"); !strings.Contains(out, "moved to v2") {
		t.Fatalf("rewrap:\n%s", out)
	}
	if out := cli("keys", "status"); !strings.Contains(out, "v1: 0 data keys") {
		t.Fatalf("status after rewrap:\n%s", out)
	}
	cli("keys", "retire", "--version", "1")

	// Read the key back as a restarted process would: key file (v2 only) + database.
	kr, err := vault.LoadKeyFile(filepath.Join(data, "master.key"))
	if err != nil || len(kr.Versions()) != 1 || kr.Active() != 2 {
		t.Fatalf("key file after retire: %v %v", kr, err)
	}
	db, err := sqlite.Open(t.Context(), filepath.Join(data, "polydev.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.UserByEmail(t.Context(), "rot@example.com")
	if err != nil {
		t.Fatal(err)
	}
	k, err := db.ProviderKeyFor(t.Context(), u.ID, created.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	svc := &providerkeys.Service{Store: db, Vault: vault.NewVault(kr, db, "")}
	if s, err := svc.Secret(t.Context(), k); err != nil || s != "sk-rotation-canary-1234" {
		t.Fatalf("key after rotation and retire = %q, %v", s, err)
	}
}
