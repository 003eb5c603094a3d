package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
)

// compression is one kernel payload format the way scripts/extract-vmlinux in the Linux tree finds it:
// by its magic bytes anywhere in the bzImage, then by trying to decompress from there.
type compression struct {
	name  string
	magic []byte
	tool  []string // external decompressor reading stdin; nil = done in Go
}

var compressions = []compression{
	{"gzip", []byte{0x1f, 0x8b, 0x08}, nil},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, []string{"xz", "-dc"}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}, []string{"zstd", "-dc"}},
	{"bzip2", []byte("BZh"), []string{"bzip2", "-dc"}},
	{"lzma", []byte{0x5d, 0x00, 0x00, 0x00}, []string{"xz", "-dc", "--format=lzma"}},
	{"lz4", []byte{0x02, 0x21, 0x4c, 0x18}, []string{"lz4", "-dc"}},
}

// maxTries bounds the decompressor runs per format: short magics (lzma's) occur by chance in a kernel.
const maxTries = 32

var elfMagic = []byte{0x7f, 'E', 'L', 'F'}

// ExtractVmlinux returns the uncompressed ELF kernel inside a compressed bzImage (vmlinuz). Every
// offset where a known compression magic occurs is tried until one decompresses to an ELF image;
// gzip is decoded in Go, the others by their command-line tools (xz-utils, zstd, bzip2, lz4), whose
// complaints about the trailing bzImage bytes are ignored as extract-vmlinux does.
func ExtractVmlinux(ctx context.Context, vmlinuz []byte) ([]byte, error) {
	if bytes.HasPrefix(vmlinuz, elfMagic) {
		return vmlinuz, nil
	}
	var tried []string
	for _, c := range compressions {
		for off, n := 0, 0; n < maxTries; n++ {
			i := bytes.Index(vmlinuz[off:], c.magic)
			if i < 0 {
				break
			}
			off += i
			out, err := decompress(ctx, c, vmlinuz[off:])
			if err == nil && bytes.HasPrefix(out, elfMagic) {
				return out, nil
			}
			if err != nil && !slices.Contains(tried, c.name+": "+err.Error()) {
				tried = append(tried, c.name+": "+err.Error())
			}
			off++
		}
	}
	if len(tried) > 0 {
		return nil, fmt.Errorf("no compressed ELF kernel found in vmlinuz (%v)", tried)
	}
	return nil, errors.New("no compressed ELF kernel found in vmlinuz")
}

func decompress(ctx context.Context, c compression, b []byte) ([]byte, error) {
	if c.tool == nil {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		zr.Multistream(false) // the bzImage's trailer follows the stream
		out, err := io.ReadAll(zr)
		if len(out) >= len(elfMagic) {
			return out, nil // a truncated tail still yields the kernel; the ELF check decides
		}
		return out, err
	}
	if _, err := exec.LookPath(c.tool[0]); err != nil {
		return nil, fmt.Errorf("%s not installed", c.tool[0])
	}
	cmd := exec.CommandContext(ctx, c.tool[0], c.tool[1:]...)
	cmd.Stdin = bytes.NewReader(b)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run() // "trailing garbage" exits non-zero after writing the whole payload
	if out.Len() >= len(elfMagic) {
		return out.Bytes(), nil
	}
	if err == nil {
		err = errors.New("empty output")
	}
	return nil, err
}
