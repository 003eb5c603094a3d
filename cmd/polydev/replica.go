package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/polydev/polydev"
)

// replicaID returns this server's id among PostgreSQL replicas, kept in its data directory
// (replica-id) so that a restart finds the leases of its previous run. The usage journal's lock
// keeps one server per data directory, so two running replicas never share an id.
func replicaID(dir string) (string, error) {
	path := filepath.Join(dir, "replica-id")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading the replica id: %w", err)
	}
	id := polydev.NewID()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the replica id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing the replica id: %w", err)
	}
	return id, nil
}
