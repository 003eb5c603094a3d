//go:build goexperiment.simd && amd64

package passthrough

import (
	"simd/archsimd"
	"testing"
)

// vectorScans are the block scans this machine can run, for TestBlockScanAgrees.
var vectorScans = func() (v []struct {
	name string
	skip func([]byte, int) (int, bool)
}) {
	if blockScan {
		v = append(v, struct {
			name string
			skip func([]byte, int) (int, bool)
		}{"AVX2", skipContainerNarrow})
	}
	if blockScan && wide {
		v = append(v, struct {
			name string
			skip func([]byte, int) (int, bool)
		}{"AVX-512", skipContainerWide})
	}
	return v
}()

// TestVectorMasks: both vector mask makers give the byte-at-a-time masks at every offset of every
// input, the end of the input included (where a block is cut short).
func TestVectorMasks(t *testing.T) {
	t.Parallel()
	if !archsimd.X86.AVX2() {
		t.Skip("SKIP: this CPU has no AVX2: the block scan is off and skipContainer runs")
	}
	for _, s := range blockInputs(t) {
		b := []byte(s)
		step := 1
		if len(b) > 4096 {
			step = 61
		}
		for j := 0; j < len(b); j += step {
			q, bs, o, c := scalarMasks(b, j)
			if q2, bs2, o2, c2 := vectorMasks(b, j); q2 != q || bs2 != bs || o2 != o || c2 != c {
				t.Fatalf("%.80q at %d: AVX2 masks %x %x %x %x, want %x %x %x %x", s, j, q2, bs2, o2, c2, q, bs, o, c)
			}
			if archsimd.X86.AVX512() {
				if q2, bs2, o2, c2 := wideMasks(b, j); q2 != q || bs2 != bs || o2 != o || c2 != c {
					t.Fatalf("%.80q at %d: AVX-512 masks %x %x %x %x, want %x %x %x %x", s, j, q2, bs2, o2, c2, q, bs, o, c)
				}
			}
		}
	}
}
