package vault

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
)

// keyFileMaxSize bounds what LoadKeyFile reads; a real file is a few hundred bytes.
const keyFileMaxSize = 1 << 20

const keyFileHeader = `# polydev master keys (KEKs). Keep this file secret and at mode 0600.
# One "v<N>:<base64 32-byte key>" line per version; the highest encrypts new data.
# Back it up: losing it makes every encrypted value unreadable.
`

// LoadKeyFile reads a key file: one "vN:BASE64" line per version, blank lines
// and lines starting with # ignored. A file group or others can read or write
// is refused with ErrInsecureKeyFile (not checked on Windows, where mode bits
// do not describe access).
func LoadKeyFile(path string) (*Keyring, error) {
	keys, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return newKeyring(keys), nil
}

// LoadOrCreateKeyFile loads the key file at path, or, if there is none,
// generates a random v1 key and writes it there (mode 0600, parent directory
// created 0700). created reports the second case so the caller can log it
// loudly: that file now has to be backed up. Two processes racing to create
// the file end up with the same key, because creation never replaces a file.
func LoadOrCreateKeyFile(path string) (kr *Keyring, created bool, err error) {
	kr, err = LoadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return kr, false, err
	}
	key, err := randomKey()
	if err != nil {
		return nil, false, err
	}
	keys := map[int][]byte{1: key}
	err = createFile(path, formatKeyFile(keys))
	if errors.Is(err, fs.ErrExist) {
		clear(key)
		kr, err = LoadKeyFile(path)
		return kr, false, err
	}
	if err != nil {
		clear(key)
		return nil, false, fmt.Errorf("vault: creating key file: %w", err)
	}
	return newKeyring(keys), true, nil
}

// RotateFile is Rotate for a keyring loaded from the key file at path: the new
// version is written to the file (atomically, mode 0600) before it becomes
// active, so nothing is ever wrapped under a key that is not on disk. It
// refuses to run if the file no longer holds exactly this keyring's keys,
// rather than overwrite a rotation made by another process; reload first.
// The file is rewritten whole, so hand-written comments are not kept.
func (kr *Keyring) RotateFile(path string) (int, error) {
	if path == "" {
		return 0, errors.New("vault: key file path is empty")
	}
	return kr.rotate(path)
}

// RetireFile is Retire for a keyring loaded from the key file at path: the
// version is removed from the file first, then from memory. The same guard
// against a file changed by someone else applies as for RotateFile.
func (kr *Keyring) RetireFile(path string, version int) error {
	if path == "" {
		return errors.New("vault: key file path is empty")
	}
	return kr.retire(path, version)
}

// persist replaces the key file at path with want; an empty path means the
// keyring lives in memory only. The caller holds kr.mu.
func (kr *Keyring) persist(path string, want map[int][]byte) error {
	if path == "" {
		return nil
	}
	onDisk, err := readKeyFile(path)
	if err != nil {
		return err
	}
	same := sameKeys(onDisk, kr.keys)
	clearKeys(onDisk)
	if !same {
		return fmt.Errorf("vault: key file %s no longer matches the loaded keyring; reload it first", path)
	}
	if err := replaceFile(path, formatKeyFile(want)); err != nil {
		return fmt.Errorf("vault: writing key file: %w", err)
	}
	return nil
}

func readKeyFile(path string) (map[int][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vault: opening key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the mode checked is the mode of
	// the bytes read.
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vault: key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("vault: key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%w: %s has mode %04o, want 0600 (chmod 600 %s)",
			ErrInsecureKeyFile, path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, keyFileMaxSize+1))
	defer clear(data)
	if err != nil {
		return nil, fmt.Errorf("vault: reading key file: %w", err)
	}
	if len(data) > keyFileMaxSize {
		return nil, fmt.Errorf("vault: key file %s is larger than %d bytes", path, keyFileMaxSize)
	}
	keys, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("vault: key file %s: %w", path, err)
	}
	return keys, nil
}

func parseKeyFile(data []byte) (map[int][]byte, error) {
	keys := make(map[int][]byte)
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := addEntry(keys, line); err != nil {
			clearKeys(keys)
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}

func formatKeyFile(keys map[int][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(keyFileHeader)
	for _, v := range slices.Sorted(maps.Keys(keys)) {
		fmt.Fprintf(&b, "v%d:%s\n", v, base64.StdEncoding.EncodeToString(keys[v]))
	}
	return b.Bytes()
}

// sameKeys compares two key sets without early exit on key bytes.
func sameKeys(a, b map[int][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	same := 1
	for v, ka := range a {
		kb, ok := b[v]
		if !ok {
			return false
		}
		same &= subtle.ConstantTimeCompare(ka, kb)
	}
	return same == 1
}
