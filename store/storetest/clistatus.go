package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// testCLIStatus: one row per (user, machine, CLI); a new report replaces the row but keeps when it
// was first seen; users never see each other's rows.
func testCLIStatus(t *testing.T, s polydev.Store) {
	a := newUser(t, s, polydev.TierPro)
	b := newUser(t, s, polydev.TierPro)
	first := time.Now().UTC().Truncate(time.Millisecond)
	row := &polydev.CLIStatus{UserID: a.ID, Machine: "laptop", Provider: polydev.CLIClaudeCode, Status: polydev.CLIAvailable,
		Authenticated: false, Version: "2.0.1", Path: "/usr/local/bin/claude", CheckedAt: first, CreatedAt: first}
	must(t, s.PutCLIStatus(ctx(t), row))
	must(t, s.PutCLIStatus(ctx(t), &polydev.CLIStatus{UserID: a.ID, Machine: "desktop", Provider: polydev.CLIGemini,
		Status: polydev.CLINotInstalled, CheckedAt: first, CreatedAt: first}))
	must(t, s.PutCLIStatus(ctx(t), &polydev.CLIStatus{UserID: b.ID, Machine: "laptop", Provider: polydev.CLICodex,
		Status: polydev.CLIAvailable, CheckedAt: first, CreatedAt: first}))

	later := first.Add(time.Hour)
	again := *row
	again.Authenticated, again.Version, again.CheckedAt, again.CreatedAt = true, "2.0.2", later, later
	must(t, s.PutCLIStatus(ctx(t), &again))

	got, err := s.ListCLIStatus(ctx(t), a.ID)
	must(t, err)
	want := []*polydev.CLIStatus{
		{UserID: a.ID, Machine: "desktop", Provider: polydev.CLIGemini, Status: polydev.CLINotInstalled, CheckedAt: first, CreatedAt: first},
		{UserID: a.ID, Machine: "laptop", Provider: polydev.CLIClaudeCode, Status: polydev.CLIAvailable, Authenticated: true,
			Version: "2.0.2", Path: "/usr/local/bin/claude", CheckedAt: later, CreatedAt: first},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListCLIStatus = %+v\nwant %+v", got, want)
	}
	other, err := s.ListCLIStatus(ctx(t), b.ID)
	must(t, err)
	if len(other) != 1 || other[0].Provider != polydev.CLICodex {
		t.Fatalf("other user's rows = %+v", other)
	}
	none, err := s.ListCLIStatus(ctx(t), polydev.NewID())
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("unknown user has rows: %+v", none)
	}
}

// testTokenScopes: a token keeps its scope; an unscoped one is an API token.
func testTokenScopes(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPro)
	api := newToken(t, s, u.ID, time.Now())
	if api.Scope != polydev.TokenScopeAPI {
		t.Fatalf("unscoped token stored with scope %q", api.Scope)
	}
	m := &polydev.APIToken{ID: polydev.NewID(), UserID: u.ID, Name: "agent", Hash: polydev.NewID(), Hint: "pdm_…abcd",
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Scope: polydev.TokenScopeMCP}
	must(t, s.CreateToken(ctx(t), m))
	got, err := s.TokenByHash(ctx(t), m.Hash)
	must(t, err)
	if got.Scope != polydev.TokenScopeMCP {
		t.Fatalf("MCP token read back with scope %q", got.Scope)
	}
	got, err = s.TokenByHash(ctx(t), api.Hash)
	must(t, err)
	if got.Scope != polydev.TokenScopeAPI {
		t.Fatalf("API token read back with scope %q", got.Scope)
	}
}
