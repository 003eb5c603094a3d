package vault

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func skipOnWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "master.key")

	kr, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700)
	if kr.Active() != 1 || len(kr.Versions()) != 1 {
		t.Fatalf("new keyring: %v", kr)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want just the key file", len(entries))
	}

	again, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}
	if !sameKeys(kr.keys, again.keys) || again.Active() != 1 {
		t.Error("reloaded keyring differs from the created one")
	}
}

func TestLoadOrCreateKeyFileRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	rings := make([]*Keyring, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			kr, _, err := LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
			}
			rings[i] = kr
		})
	}
	wg.Wait()
	for _, kr := range rings[1:] {
		if kr == nil || !sameKeys(kr.keys, rings[0].keys) {
			t.Fatal("concurrent creators ended up with different keys")
		}
	}
}

func TestLoadKeyFileRefusesOpenPermissions(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)
	for _, mode := range []fs.FileMode{0o640, 0o604, 0o660, 0o620, 0o644} {
		path := filepath.Join(t.TempDir(), "master.key")
		if _, _, err := LoadOrCreateKeyFile(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKeyFile(path)
		if !errors.Is(err, ErrInsecureKeyFile) {
			t.Errorf("mode %04o: err = %v, want ErrInsecureKeyFile", mode, err)
		} else if !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: error %q does not say how to fix it", mode, err)
		}
		if _, _, err := LoadOrCreateKeyFile(path); !errors.Is(err, ErrInsecureKeyFile) {
			t.Errorf("mode %04o: LoadOrCreateKeyFile err = %v, want ErrInsecureKeyFile", mode, err)
		}
	}
}

func TestLoadKeyFileFormat(t *testing.T) {
	t.Parallel()
	enc := "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=" // 32 × 'Z'
	tests := []struct {
		name     string
		content  string
		versions []int
		wantErr  string
	}{
		{"comments and blanks", "# keys\n\nv1:" + enc + "\r\n  # v9 retired\nv2:" + enc + "\n", []int{1, 2}, ""},
		{"no trailing newline", "v3:" + enc, []int{3}, ""},
		{"only comments", "# nothing\n", nil, "no keys"},
		{"bare key", enc + "\n", nil, "line 1"},
		{"duplicate", "v1:" + enc + "\nv1:" + enc + "\n", nil, "line 2: duplicate version v1"},
		{"bad line", "v1:" + enc + "\n\nv2:abc\n", nil, "line 3"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "master.key")
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		kr, err := LoadKeyFile(path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
			} else if strings.Contains(err.Error(), enc[:12]) {
				t.Errorf("%s: error quotes the key", tt.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := kr.Versions(); len(got) != len(tt.versions) || got[len(got)-1] != tt.versions[len(tt.versions)-1] {
			t.Errorf("%s: versions %v, want %v", tt.name, got, tt.versions)
		}
	}
}

func TestRotateAndRetireFile(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)
	path := filepath.Join(t.TempDir(), "master.key")
	kr, _, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := kr.RotateFile(path); err != nil || v != 2 {
		t.Fatalf("RotateFile = %d, %v", v, err)
	}
	assertMode(t, path, 0o600)
	assertReloads(t, path, kr)

	if err := kr.RetireFile(path, 1); err != nil {
		t.Fatal(err)
	}
	assertReloads(t, path, kr)
	if got := kr.Versions(); len(got) != 1 || got[0] != 2 {
		t.Errorf("versions after RetireFile: %v", got)
	}
}

// TestRotateFileRefusesChangedFile guards against two processes rotating the
// same file: the second must not overwrite the first one's new key.
func TestRotateFileRefusesChangedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "master.key")
	a, _, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RotateFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RotateFile(path); err == nil {
		t.Fatal("second rotation overwrote the first")
	}
	if b.Active() != 1 {
		t.Errorf("failed RotateFile still activated v%d", b.Active())
	}
	assertReloads(t, path, a)

	missing := filepath.Join(t.TempDir(), "none.key")
	if _, err := a.RotateFile(missing); err == nil {
		t.Error("RotateFile on a missing file: want error")
	}
	if a.Active() != 2 {
		t.Errorf("failed RotateFile changed the active version to %d", a.Active())
	}
}

func assertReloads(t *testing.T, path string, want *Keyring) {
	t.Helper()
	got, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sameKeys(got.keys, want.keys) || got.Active() != want.Active() {
		t.Errorf("file holds %v, memory %v", got, want)
	}
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}
