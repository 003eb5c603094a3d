package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polydev/polydev"
)

// TestPricingImport runs `polydev pricing import` against a SQLite data directory: LiteLLM's format
// and ours import into the imported layer, an admin's override stays, and a malformed file changes
// nothing.
func TestPricingImport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv := func(k string) string {
		if k == "POLYDEV_DATA_DIR" {
			return filepath.Join(dir, "data")
		}
		return ""
	}
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, getenv, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := run("migrate"); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	db, err := openStore(t.Context(), &Config{DataDir: filepath.Join(dir, "data")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.PutPriceOverrides(t.Context(), []*polydev.ModelPrice{{Model: "openai/gpt-4o", InputPerMTok: 7, OutputPerMTok: 7}}))
	must(db.Close())

	litellm := filepath.Join("..", "..", "pricing", "testdata", "litellm-sample.json")
	if out, err := run("pricing", "import", "--dry-run", litellm); err != nil || !strings.Contains(out, "5 models would be imported") {
		t.Fatalf("dry run: %v %s", err, out)
	}
	if out, err := run("pricing", "import", litellm); err != nil || !strings.Contains(out, "imported 4 models (1 kept their admin override") {
		t.Fatalf("import: %v %s", err, out)
	}
	own := filepath.Join(dir, "own.json")
	must(os.WriteFile(own, []byte(`{"asOf":"2026-12-06","models":{"gemini/gemini-9":{"input":1,"output":2,"maxOutput":8192,"context":1000000}}}`), 0o600))
	if out, err := run("pricing", "import", own); err != nil || !strings.Contains(out, "imported 1 models") {
		t.Fatalf("own format: %v %s", err, out)
	}
	bad := filepath.Join(dir, "bad.json")
	must(os.WriteFile(bad, []byte(`{"models":{"gemini/x":{"input":-1}}}`), 0o600))
	if out, err := run("pricing", "import", bad); err == nil {
		t.Fatalf("malformed file imported: %s", out)
	}
	if _, err := run("pricing", "import"); err == nil {
		t.Fatal("import without a file accepted")
	}

	db, err = openStore(t.Context(), &Config{DataDir: filepath.Join(dir, "data")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.ListPriceOverrides(t.Context())
	must(err)
	got := map[string]*polydev.ModelPrice{}
	for _, p := range rows {
		got[p.Model] = p
	}
	if p := got["openai/gpt-4o"]; p == nil || p.Imported || p.InputPerMTok != 7 {
		t.Errorf("override = %+v", p)
	}
	if p := got["anthropic/claude-haiku-4-5-20251001"]; p == nil || !p.Imported || p.InputPerMTok != 1_000_000 || p.MaxOutputTokens != 64000 {
		t.Errorf("imported = %+v", p)
	}
	if p := got["gemini/gemini-9"]; p == nil || !p.Imported || p.MaxOutputTokens != 8192 {
		t.Errorf("own format row = %+v", p)
	}
	if len(rows) != 6 {
		t.Errorf("%d rows, want 6", len(rows))
	}
}
