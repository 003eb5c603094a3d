package passthrough

import "math/bits"

// The block scan: skipContainer's result, 64 bytes at a time. Each block is reduced to four bit
// masks (quotes, backslashes, opening and closing brackets; scan_blocks_amd64.go makes them with
// vector compares), and the rest is arithmetic on the masks:
//
//   - the quotes that an odd run of backslashes stands before are escaped (escapes);
//   - the bytes inside strings are the prefix XOR of the other quotes (bit k is set when an odd
//     number of them stand at or before k), carried from block to block;
//   - brackets outside strings move the depth; a block whose closing brackets are fewer than the
//     depth cannot end the value and is skipped with two population counts, so the bytes of a
//     large value are never visited one at a time.
//
// In valid JSON a backslash stands only inside a string. A block with one outside (invalid JSON,
// where the two scans could disagree on what the backslash does to the quote after it) sends
// the whole value back to skipContainer, so both scans return the same for every input
// (TestBlockScanAgrees).

const (
	evenBits = 0x5555555555555555 // bytes at even offsets of a block
	oddBits  = ^uint64(evenBits)
)

// backslashRun is what a block leaves to the next: whether it ended in a backslash run, and
// whether that run's length so far is odd.
type backslashRun struct{ open, odd bool }

// escapes returns the bytes of a block that an odd run of backslashes stands right before (the
// run may have begun in earlier blocks: r), and what the block leaves to the next.
//
// A run that starts at an even offset and has odd length ends right before an odd offset; one
// that starts at an odd offset, before an even one. Adding a run's start bit to the backslash
// mask carries through the run and sets the bit right after it, so the two sums (runs by the
// parity of their start) mark every run's end, and the parity masks keep the odd-length ones. A
// run carried in from the previous block starts, for this purpose, at offset -1 when its length
// so far is odd (then an even length here makes it odd) and at -2 when even.
func escapes(bs uint64, r backslashRun) (uint64, backslashRun) {
	starts := bs &^ (bs << 1)
	evenStarts, oddStarts := starts&evenBits, starts&oddBits
	var escaped uint64
	if r.open {
		switch {
		case bs&1 == 0 && r.odd:
			escaped = 1 // the run ended with the previous block
		case bs&1 != 0 && r.odd:
			evenStarts &^= 1 // the run goes on at offset 0: counted from -1, not from 0
			oddStarts |= 1
		}
	}
	evenEnds := (bs + evenStarts) &^ bs
	oddEnds := (bs + oddStarts) &^ bs
	escaped |= evenEnds&oddBits | oddEnds&evenBits

	// What the block leaves: the run at its end, if any, and that run's parity.
	var next backslashRun
	if bs>>63 != 0 {
		next.open = true
		n := bits.LeadingZeros64(^bs) // the run's length within this block
		next.odd = n%2 == 1
		if n == 64 && r.open && r.odd {
			next.odd = !next.odd // 64 more after an odd run: still odd
		}
	}
	return escaped, next
}

// prefixXor sets bit k of the result to the XOR of bits 0..k of x.
func prefixXor(x uint64) uint64 {
	x ^= x << 1
	x ^= x << 2
	x ^= x << 4
	x ^= x << 8
	x ^= x << 16
	x ^= x << 32
	return x
}

// blockState is the scan's state between blocks.
type blockState struct {
	depth    int
	inString uint64 // all ones when the previous block ended inside a string
	run      backslashRun
}

// block takes the masks of the next block. It returns the offset after the bracket that closes
// the value when the block holds it (end >= 0), and bad when the block has a backslash outside a
// string.
func (st *blockState) block(q, bs, open, close uint64) (end int, bad bool) {
	if q|bs == 0 {
		// No quote and no backslash (most blocks of a long prompt): the block is all inside a
		// string or all outside, as the previous one ended. A backslash run carried in escapes
		// only this block's first byte, which is no quote, and ends here.
		st.run = backslashRun{}
		if st.inString != 0 {
			return -1, false
		}
	} else {
		var escaped uint64
		if bs != 0 || st.run.open {
			escaped, st.run = escapes(bs, st.run)
		}
		s := prefixXor(q&^escaped) ^ st.inString // inside a string: the opening quote, not the closing one
		st.inString = uint64(int64(s) >> 63)
		if bs&^s != 0 {
			return -1, true
		}
		open &^= s
		close &^= s
	}
	if n := bits.OnesCount64(close); n < st.depth {
		st.depth += bits.OnesCount64(open) - n
		return -1, false
	}
	for m := open | close; m != 0; m &= m - 1 {
		k := bits.TrailingZeros64(m)
		if open>>k&1 != 0 {
			st.depth++
			continue
		}
		if st.depth--; st.depth == 0 {
			return k + 1, false
		}
	}
	return -1, false
}

// skipBlocks is skipContainer over block masks: masks(b, j) returns those of b[j:j+64] (bytes
// past the end of b count as none of the four). The vector version inlines this loop.
func skipBlocks(b []byte, i int, masks func(b []byte, j int) (q, bs, open, close uint64)) (int, bool) {
	st := blockState{depth: 1}
	for j := i + 1; j < len(b); j += 64 {
		end, bad := st.block(masks(b, j))
		if bad {
			return skipContainer(b, i) // a backslash outside a string: not JSON, see above
		}
		if end >= 0 {
			return j + end, true
		}
	}
	return 0, false
}
