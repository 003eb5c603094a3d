//go:build goexperiment.simd && amd64

package passthrough

import "simd/archsimd"

// blockScan: the vector compares need AVX2; with AVX-512 a block is one 64-byte vector.
var (
	blockScan = archsimd.X86.AVX2()
	wide      = archsimd.X86.AVX512()
)

// skipContainerBlocks is skipContainer, 64 bytes at a time (scan_blocks.go).
func skipContainerBlocks(b []byte, i int) (int, bool) {
	if wide {
		return skipContainerWide(b, i)
	}
	return skipContainerNarrow(b, i)
}

// skipContainerNarrow is skipContainerBlocks with AVX2: two 32-byte vectors per block.
func skipContainerNarrow(b []byte, i int) (int, bool) {
	st := blockState{depth: 1}
	for j := i + 1; j < len(b); j += 64 {
		end, bad := st.block(vectorMasks(b, j))
		if bad {
			return skipContainer(b, i) // a backslash outside a string: not JSON (scan_blocks.go)
		}
		if end >= 0 {
			return j + end, true
		}
	}
	return 0, false
}

// skipContainerWide is skipContainerBlocks with AVX-512: wideMasks written into the loop (the
// constants loaded once, no call per block), and a block inside a string with no quote and no
// backslash, the commonest in a long prompt, passed over without a call to block.
func skipContainerWide(b []byte, i int) (int, bool) {
	st := blockState{depth: 1}
	quote := archsimd.BroadcastUint8x64('"')
	backslash := archsimd.BroadcastUint8x64('\\')
	bit5 := archsimd.BroadcastUint8x64(0x20)
	opening := archsimd.BroadcastUint8x64('{')
	closing := archsimd.BroadcastUint8x64('}')
	for j := i + 1; j < len(b); j += 64 {
		var v archsimd.Uint8x64
		if len(b)-j >= 64 {
			v = archsimd.LoadUint8x64Slice(b[j : j+64])
		} else {
			v = archsimd.LoadUint8x64SlicePart(b[j:])
		}
		q, bs := v.Equal(quote).ToBits(), v.Equal(backslash).ToBits()
		if q|bs == 0 && st.inString != 0 {
			st.run = backslashRun{} // as block does
			continue
		}
		v = v.Or(bit5)
		end, bad := st.block(q, bs, v.Equal(opening).ToBits(), v.Equal(closing).ToBits())
		if bad {
			return skipContainer(b, i) // a backslash outside a string: not JSON (scan_blocks.go)
		}
		if end >= 0 {
			return j + end, true
		}
	}
	return 0, false
}

// vectorMasks returns the masks of b[j:j+64], two 32-byte compares per class. '[' and '{' differ
// only in bit 5, as do ']' and '}': one compare after setting it finds both.
func vectorMasks(b []byte, j int) (q, bs, open, close uint64) {
	var lo, hi archsimd.Uint8x32
	if len(b)-j >= 64 {
		lo = archsimd.LoadUint8x32Slice(b[j : j+32])
		hi = archsimd.LoadUint8x32Slice(b[j+32 : j+64])
	} else {
		end := min(j+32, len(b))
		lo = archsimd.LoadUint8x32SlicePart(b[j:end])
		if end < len(b) {
			hi = archsimd.LoadUint8x32SlicePart(b[end:])
		}
	}
	quote := archsimd.BroadcastUint8x32('"')
	backslash := archsimd.BroadcastUint8x32('\\')
	bit5 := archsimd.BroadcastUint8x32(0x20)
	opening := archsimd.BroadcastUint8x32('{')
	closing := archsimd.BroadcastUint8x32('}')
	q = uint64(lo.Equal(quote).ToBits()) | uint64(hi.Equal(quote).ToBits())<<32
	bs = uint64(lo.Equal(backslash).ToBits()) | uint64(hi.Equal(backslash).ToBits())<<32
	lo, hi = lo.Or(bit5), hi.Or(bit5)
	open = uint64(lo.Equal(opening).ToBits()) | uint64(hi.Equal(opening).ToBits())<<32
	close = uint64(lo.Equal(closing).ToBits()) | uint64(hi.Equal(closing).ToBits())<<32
	return q, bs, open, close
}

// wideMasks is vectorMasks with one 64-byte vector per class (AVX-512).
func wideMasks(b []byte, j int) (q, bs, open, close uint64) {
	var v archsimd.Uint8x64
	if len(b)-j >= 64 {
		v = archsimd.LoadUint8x64Slice(b[j : j+64])
	} else {
		v = archsimd.LoadUint8x64SlicePart(b[j:])
	}
	q = v.Equal(archsimd.BroadcastUint8x64('"')).ToBits()
	bs = v.Equal(archsimd.BroadcastUint8x64('\\')).ToBits()
	v = v.Or(archsimd.BroadcastUint8x64(0x20))
	open = v.Equal(archsimd.BroadcastUint8x64('{')).ToBits()
	close = v.Equal(archsimd.BroadcastUint8x64('}')).ToBits()
	return q, bs, open, close
}
