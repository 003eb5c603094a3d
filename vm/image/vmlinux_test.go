package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// fakeKernel is an ELF-looking payload big enough to contain chance magic bytes.
func fakeKernel() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := append([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1}, make([]byte, 200_000)...)
	for i := 7; i < len(b); i += 3 {
		b[i] = byte(r.Uint32()) // compressible but not trivially
	}
	return b
}

// bzImage wraps a compressed payload like a real one: a setup header before it (with a decoy gzip
// magic that does not decompress) and a trailer after it.
func bzImage(payload []byte) []byte {
	head := append([]byte("MZ\x00\x00 setup code HdrS "), 0x1f, 0x8b, 0x08, 0xff, 0xff, 0x00)
	head = append(head, bytes.Repeat([]byte{0x90}, 1000)...)
	return append(append(head, payload...), bytes.Repeat([]byte{0xaa, 0x55}, 300)...)
}

func compressWith(t *testing.T, tool string, data []byte) []byte {
	t.Helper()
	if tool == "gzip" {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		return buf.Bytes()
	}
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("SKIP: %s not installed (apt-get install xz-utils zstd)", tool)
	}
	args := map[string][]string{"xz": {"-c", "--check=crc32"}, "zstd": {"-c", "-q"}}[tool]
	cmd := exec.Command(tool, args...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return out
}

func TestImageExtractVmlinux(t *testing.T) {
	t.Parallel()
	kernel := fakeKernel()
	for _, tool := range []string{"gzip", "xz", "zstd"} {
		t.Run(tool, func(t *testing.T) {
			t.Parallel()
			got, err := ExtractVmlinux(context.Background(), bzImage(compressWith(t, tool, kernel)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, kernel) {
				t.Fatalf("extracted %d bytes, want the %d-byte kernel", len(got), len(kernel))
			}
		})
	}
}

func TestImageExtractVmlinuxAlreadyELF(t *testing.T) {
	t.Parallel()
	k := fakeKernel()
	if got, err := ExtractVmlinux(context.Background(), k); err != nil || !bytes.Equal(got, k) {
		t.Fatalf("an uncompressed kernel was not passed through: %v", err)
	}
}

func TestImageExtractVmlinuxNoKernel(t *testing.T) {
	t.Parallel()
	// Compressed, but not an ELF inside: not a kernel.
	z := compressWith(t, "gzip", bytes.Repeat([]byte("not a kernel "), 1000))
	if _, err := ExtractVmlinux(context.Background(), bzImage(z)); err == nil {
		t.Fatal("found a kernel in a payload without one")
	}
	if _, err := ExtractVmlinux(context.Background(), []byte("tiny")); err == nil {
		t.Fatal("found a kernel in 4 bytes")
	}
}

func FuzzExtractVmlinux(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0})
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ExtractVmlinux(context.Background(), b)
		if err == nil && !bytes.HasPrefix(out, elfMagic) {
			t.Fatal("success without an ELF")
		}
	})
}
