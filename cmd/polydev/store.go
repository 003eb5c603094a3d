package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/postgres"
	"github.com/polydev/polydev/store/sqlite"
)

// openStore opens (and migrates) the configured engine.
func openStore(ctx context.Context, c *Config, log *slog.Logger) (*store.DB, error) {
	if c.DatabaseURL != "" {
		log.Info("opening store", "engine", "postgres")
		return postgres.Open(ctx, c.DatabaseURL)
	}
	path := filepath.Join(c.DataDir, "polydev.db")
	log.Info("opening store", "engine", "sqlite", "path", path)
	return sqlite.Open(ctx, path)
}
