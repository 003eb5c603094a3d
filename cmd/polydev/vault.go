package main

import (
	"log/slog"
	"path/filepath"

	"github.com/polydev/polydev/vault"
)

// keyFilePath is where the master keys live when POLYDEV_MASTER_KEY is unset.
func keyFilePath(c *Config) string { return filepath.Join(c.DataDir, "master.key") }

// loadKeyring returns the master keys and, when they come from the key file, its path. A key file is
// generated on first run, with a warning that it must be backed up apart from the database.
func loadKeyring(c *Config, log *slog.Logger) (*vault.Keyring, string, error) {
	if c.MasterKey != "" {
		kr, err := vault.LoadKeyring(c.MasterKey)
		if err != nil {
			return nil, "", err
		}
		log.Info("master keys loaded", "source", "POLYDEV_MASTER_KEY", "versions", kr.Versions(), "active", kr.Active())
		return kr, "", nil
	}
	path := keyFilePath(c)
	kr, created, err := vault.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, "", err
	}
	if created {
		log.Warn("GENERATED A NEW MASTER KEY: every stored secret is encrypted with it. Back it up, apart from the database; "+
			"losing it loses every encrypted secret. Set POLYDEV_MASTER_KEY to manage it yourself.", "path", path)
	}
	log.Info("master keys loaded", "source", path, "versions", kr.Versions(), "active", kr.Active())
	return kr, path, nil
}
