package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// engines are the store engines -engine accepts, in report order.
var engines = []string{"sqlite", "postgres"}

// parseEngines returns the engines to measure, each once.
func parseEngines(s string) ([]string, error) {
	var out []string
	for _, e := range splitList(s) {
		if !slices.Contains(engines, e) {
			return nil, fmt.Errorf("unknown engine %q (known: %s)", e, strings.Join(engines, ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no engine named")
	}
	return out, nil
}

// engineTarget names Polydev's target on an engine: SQLite keeps the plain name, so the report's
// comparisons against goproxy and the peer read the default deployment.
func engineTarget(engine string) string {
	if engine == "sqlite" {
		return "polydev"
	}
	return "polydev-pg"
}

// isPolydev says whether a target is Polydev on some engine.
func isPolydev(name string) bool { return name == "polydev" || strings.HasPrefix(name, "polydev-") }

// benchPostgres returns the database URL for -engine postgres: url when given, else a throwaway
// cluster started with scripts/pg.sh under tmp (fsync off, as in the tests; stop stops it).
func benchPostgres(ctx context.Context, url, tmp string) (dbURL string, stop func(), err error) {
	if url != "" {
		return url, nil, nil
	}
	script := filepath.Join("scripts", "pg.sh")
	if _, err := os.Stat(script); err != nil {
		return "", nil, fmt.Errorf("no -pg-url and %s not found (run from the repository root, as run.sh does)", script)
	}
	dir := filepath.Join(tmp, "pg")
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	logf("postgres: starting a throwaway cluster (scripts/pg.sh start %s)", dir)
	out, err := exec.CommandContext(cctx, "bash", script, "start", dir).Output()
	stop = func() { _ = exec.Command("bash", script, "stop", dir).Run() }
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", stop, fmt.Errorf("scripts/pg.sh start: %w", err)
	}
	return strings.TrimSpace(string(out)), stop, nil
}

// pgURLNote describes the PostgreSQL server for the report, without its password.
func (c config) pgURLNote() string {
	if c.pgURL == "" {
		return "a throwaway cluster from scripts/pg.sh on 127.0.0.1 (fsync and synchronous_commit off)"
	}
	return "the server of -pg-url"
}
