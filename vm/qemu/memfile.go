package qemu

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// copyFile copies src to dst, keeping holes: guest RAM the guest never touched is a hole in the
// memory file and stays one in the copy. Data ranges go through io.Copy, which uses copy_file_range
// (a reflink where the filesystem can).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("qemu: snapshot memory: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("qemu: snapshot memory: %w", err)
	}
	err = copySparse(in, out, fi.Size())
	return errors.Join(err, out.Close())
}

// Linux lseek whences (not in package syscall).
const (
	seekData = 3
	seekHole = 4
)

func copySparse(in, out *os.File, size int64) error {
	if err := out.Truncate(size); err != nil {
		return err
	}
	for off := int64(0); off < size; {
		data, err := in.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			return nil // only a hole is left
		}
		if err != nil { // no SEEK_DATA here: copy everything
			if _, err := in.Seek(0, io.SeekStart); err != nil {
				return err
			}
			_, err = io.Copy(out, in)
			return err
		}
		hole, err := in.Seek(data, seekHole)
		if err != nil {
			return err
		}
		if _, err := in.Seek(data, io.SeekStart); err != nil {
			return err
		}
		if _, err := out.Seek(data, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.CopyN(out, in, hole-data); err != nil {
			return err
		}
		off = hole
	}
	return nil
}
