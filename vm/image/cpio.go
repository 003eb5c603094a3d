package image

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// cpioEntry is one member of a newc cpio archive (the initramfs format).
type cpioEntry struct {
	Name string // without a leading slash
	Mode uint32 // type bits included: 0o040000 dir, 0o100000 file, 0o120000 symlink
	Data []byte // file content or symlink target
	// RdevMajor and RdevMinor are a device node's numbers (/dev/console is 5, 1).
	RdevMajor, RdevMinor uint32
}

const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

// writeCpio writes entries sorted by name, owned by root, with mtime fixed to epoch and inode numbers
// from the sorted position, so the same entries always give the same bytes.
func writeCpio(w io.Writer, entries []cpioEntry, epoch int64) error {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b cpioEntry) int { return strings.Compare(a.Name, b.Name) })
	for i, e := range entries {
		if err := writeCpioRecord(w, uint32(i+1), e, epoch); err != nil {
			return err
		}
	}
	return writeCpioRecord(w, 0, cpioEntry{Name: "TRAILER!!!"}, 0)
}

func writeCpioRecord(w io.Writer, ino uint32, e cpioEntry, epoch int64) error {
	nlink := 1
	if e.Mode&0o170000 == modeDir {
		nlink = 2
	}
	name := e.Name + "\x00"
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, e.Mode, 0, 0, nlink, uint32(epoch), len(e.Data), 0, 0, e.RdevMajor, e.RdevMinor, len(name), 0)
	pad := func(n int) string { return strings.Repeat("\x00", (4-n%4)%4) }
	if _, err := io.WriteString(w, hdr+name+pad(len(hdr)+len(name))); err != nil {
		return err
	}
	if _, err := w.Write(e.Data); err != nil {
		return err
	}
	_, err := io.WriteString(w, pad(len(e.Data)))
	return err
}
