package vault

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// replaceFile atomically replaces path with data at mode 0600: readers see the
// old file or the new one, never a torn key file.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(dir)
	return nil
}

// createFile writes data to path at mode 0600 only if path does not exist,
// returning an error matching fs.ErrExist otherwise. It writes a temp file and
// hard-links it into place: link, unlike rename, never replaces an existing
// file, so two processes creating the key file at once cannot end up with
// different keys.
func createFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// Some filesystems have no hard links. Fall back to rename, which
		// leaves only a narrow window for the race described above.
		if _, statErr := os.Lstat(path); statErr == nil {
			return fs.ErrExist
		}
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// writeTemp writes data to a new synced temp file in dir and returns its name.
// The temp file is in the same directory so that rename and link stay atomic.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".polydev-key-*.tmp")
	if err != nil {
		return "", err
	}
	name := f.Name()
	// CreateTemp already uses 0600; say so explicitly since it is the point.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// syncDir makes a rename or link durable. It is best effort: some platforms
// cannot open or sync a directory, and the file itself is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
