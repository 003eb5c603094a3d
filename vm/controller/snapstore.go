package controller

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/polydev/polydev/vm"
)

// The golden snapshot store. Image.SnapshotDir is its root; each snapshot is a directory named
// <key name>.<golden VM key> holding the driver's files and, written last, a manifest. The name
// is never reused: clones' disk overlays name the snapshot's disk layer by its path, so a new
// snapshot of the same key gets a directory of its own instead of replacing the old one's files.
//
// Crash safety: the driver writes into <root>/.tmp-<name>; every file is fsynced, the manifest is
// written under a temporary name, fsynced and renamed, the directory fsynced, and only then is it
// renamed to its final name (and the root fsynced). A directory without a valid manifest is not
// a snapshot, whatever else it holds.
const (
	snapManifest = "manifest.json"
	tmpPrefix    = ".tmp-"
)

// manifest describes a finished snapshot: the key it was made under and each file's size and
// CRC-32C. The checksum finds a torn or damaged file at load (a 1 GiB memory file takes about
// 0.15 s, where SHA-256 took 2 s on this project's loaded 2-core host); it is not a defence against
// someone who can write the data directory, who could rewrite the manifest too, and who holds the
// master key beside it anyway.
type manifest struct {
	Key   snapshotKey        `json:"key"`
	Files map[string]fileSum `json:"files"`
	Made  time.Time          `json:"made"`
}

type fileSum struct {
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sumFile checksums path, and fsyncs it first when sync is set.
func sumFile(path string, sync bool) (fileSum, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	if sync {
		if err := f.Sync(); err != nil {
			return fileSum{}, err
		}
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	if err != nil {
		return fileSum{}, err
	}
	return fileSum{Size: n, CRC32C: h.Sum32()}, nil
}

// sealSnapshot makes the driver's files in dir durable and writes the manifest that turns dir into
// a snapshot of key. The state and memory files are required; the disk layer is recorded when the
// driver wrote one.
func sealSnapshot(dir string, key snapshotKey, now time.Time) error {
	m := manifest{Key: key, Files: map[string]fileSum{}, Made: now.UTC()}
	for _, name := range []string{snapState, snapMem, snapDisk} {
		sum, err := sumFile(filepath.Join(dir, name), true)
		if errors.Is(err, os.ErrNotExist) && name == snapDisk {
			continue
		}
		if err != nil {
			return fmt.Errorf("golden snapshot: %w", err)
		}
		m.Files[name] = sum
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(dir, snapManifest), b); err != nil {
		return fmt.Errorf("golden snapshot manifest: %w", err)
	}
	return syncDir(dir)
}

// verifySnapshot checks that dir holds a snapshot of key whose files are intact, and returns them.
func verifySnapshot(dir string, key snapshotKey) (vm.SnapshotFiles, time.Time, error) {
	b, err := os.ReadFile(filepath.Join(dir, snapManifest))
	if err != nil {
		return vm.SnapshotFiles{}, time.Time{}, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return vm.SnapshotFiles{}, time.Time{}, fmt.Errorf("manifest: %w", err)
	}
	want, _ := json.Marshal(key)
	got, _ := json.Marshal(m.Key)
	if !bytes.Equal(want, got) {
		return vm.SnapshotFiles{}, time.Time{}, errors.New("made for another image, hypervisor or machine configuration")
	}
	for _, name := range []string{snapState, snapMem} {
		if _, ok := m.Files[name]; !ok {
			return vm.SnapshotFiles{}, time.Time{}, fmt.Errorf("manifest lists no %s", name)
		}
	}
	for name, sum := range m.Files {
		if name != snapState && name != snapMem && name != snapDisk {
			return vm.SnapshotFiles{}, time.Time{}, fmt.Errorf("manifest lists an unknown file %q", name)
		}
		got, err := sumFile(filepath.Join(dir, name), false)
		if err != nil {
			return vm.SnapshotFiles{}, time.Time{}, err
		}
		if got != sum {
			return vm.SnapshotFiles{}, time.Time{}, fmt.Errorf("%s is damaged: %d bytes with CRC-32C %08x, the manifest says %d bytes, %08x", name, got.Size, got.CRC32C, sum.Size, sum.CRC32C)
		}
	}
	snap := snapshotFiles(dir)
	if _, ok := m.Files[snapDisk]; !ok {
		snap.DiskPath = ""
	}
	return snap, m.Made, nil
}

// findSnapshot returns the newest intact snapshot of key under root. Directories of key that fail
// verification lose their manifest, so they are not checked again; their files stay until
// pruneSnapshots finds no overlay using them. ErrNotExist when there is none.
func (c *Controller) findSnapshot(root string, key snapshotKey) (*vm.SnapshotFiles, string, error) {
	dirs, err := filepath.Glob(filepath.Join(root, key.name()+".*"))
	if err != nil {
		return nil, "", err
	}
	type found struct {
		dir  string
		snap vm.SnapshotFiles
		made time.Time
	}
	var ok []found
	for _, dir := range dirs {
		snap, made, err := verifySnapshot(dir, key)
		switch {
		case errors.Is(err, os.ErrNotExist) && !fileExists(filepath.Join(dir, snapManifest)):
			continue // not finished, or discarded
		case err != nil:
			c.log.Warn("saved golden snapshot unusable; it will not be restored", "dir", dir, "err", err)
			unpublish(dir)
			continue
		}
		ok = append(ok, found{dir, snap, made})
	}
	if len(ok) == 0 {
		return nil, "", os.ErrNotExist
	}
	newest := slices.MaxFunc(ok, func(a, b found) int { return a.made.Compare(b.made) })
	return &newest.snap, newest.dir, nil
}

// unpublish removes dir's manifest, so that dir is no longer a snapshot. Its files stay: stopped
// clones' overlays may fall through to its disk layer.
func unpublish(dir string) {
	if err := os.Remove(filepath.Join(dir, snapManifest)); err == nil {
		_ = syncDir(dir)
	}
}

// pruneSnapshots removes from root everything but snapshot directory keep: snapshots of other keys
// (or of older controllers' layouts), discarded ones and unfinished temporary directories, except
// those a VM overlay in vmDir still falls through to. It runs once per process, before any VM is
// booted from a snapshot, so no restore can be reading what it removes. It returns what it removed.
func pruneSnapshots(root, keep, vmDir string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	used, err := overlayBackings(vmDir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() || dir == keep || used[dir] {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

// overlayBackings returns the directories of the backing files of the qcow2 overlays in vmDir.
func overlayBackings(vmDir string) (map[string]bool, error) {
	ents, err := os.ReadDir(vmDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".overlay") {
			continue
		}
		backing, err := qcow2Backing(filepath.Join(vmDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("overlay %s: %w", e.Name(), err)
		}
		if backing != "" {
			used[filepath.Dir(backing)] = true
		}
	}
	return used, nil
}

// qcow2Backing reads the backing file name from a qcow2 header (big-endian: magic "QFI\xfb",
// version, the name's offset as 8 bytes and its length as 4). A file that is not qcow2 has none.
func qcow2Backing(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var hdr [20]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return "", nil // too short to be qcow2
	}
	if string(hdr[:4]) != "QFI\xfb" {
		return "", nil
	}
	off, n := binary.BigEndian.Uint64(hdr[8:16]), binary.BigEndian.Uint32(hdr[16:20])
	if off == 0 || n == 0 {
		return "", nil
	}
	if n > 4096 { // QEMU's own limit is 1023 bytes
		return "", errors.New("qcow2 backing file name too long")
	}
	name := make([]byte, n)
	if _, err := f.ReadAt(name, int64(off)); err != nil {
		return "", err
	}
	return string(name), nil
}

// writeFileSync writes data to path durably: a temporary sibling, fsync, rename.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	err = cmp.Or(err, f.Sync())
	if err := errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// syncDir fsyncs a directory, making the renames and removals in it durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
