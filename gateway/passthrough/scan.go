package passthrough

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The structural scan behind Peek and Member: where a JSON value ends, without decoding it.
//
// A Claude Code request of about 126 KB holds some 2,800 strings and 1,600 brackets: most strings
// are short (member names, schema types, ids), a few are long (the system prompt, tool
// descriptions), and tool results are code with an escaped quote every few dozen bytes. Each
// bytes.IndexByte costs a call and its setup (about 7 ns here, however near the quote), which
// dominated on the short strings and on the restarts after escaped quotes; it is unbeaten on long
// runs. So the next quote is first looked for a word (eight bytes) at a time, inline for a
// string's first word, and only a run of shortRun bytes without one is left to IndexByte.
// Between strings, each byte moves the depth through a table instead of a switch.
//
// Tried and slower on this body (BenchmarkPeekClaudeCode): stopping at backslashes as well as
// quotes to step over escapes (code has an escape every few bytes: 60 us instead of 38), longer
// word runs before IndexByte, and finding quotes and brackets together a word at a time (50 us).

// shortRun is how many bytes of a string are scanned a word at a time before the rest is left to
// bytes.IndexByte (a multiple of 8; BenchmarkPeekClaudeCode chose it).
const shortRun = 16

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// quotes marks the bytes of w (eight bytes, the first one lowest) that are '"': the lowest set bit
// is the high bit of the first quote. It is the classic "has a zero byte" test on w XOR '"',
// exact up to the first match, which is the only bit read (a borrow can mark bytes above a match,
// never below one).
func quotes(w uint64) uint64 {
	q := w ^ (ones * '"')
	return (q - ones) &^ q & highs
}

// skipString returns the index after the string that starts at b[i] (a quote).
func skipString(b []byte, i int) (int, bool) {
	j := i + 1
	for {
		// The next quote: a word at a time for up to shortRun bytes, then IndexByte.
		run := 0
		for ; run < shortRun && j+8 <= len(b); run += 8 {
			if m := quotes(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) || b[j] != '"' {
			k := bytes.IndexByte(b[j:], '"')
			if k < 0 {
				return 0, false
			}
			j += k
		}
		// The quote ends the string unless an odd run of backslashes stands right before it (the
		// run cannot reach back past the opening quote).
		if b[j-1] != '\\' {
			return j + 1, true
		}
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, true
		}
		j++
	}
}

// depthStep is what each byte does to the depth of nested values outside strings.
var depthStep = [256]int{'{': 1, '[': 1, '}': -1, ']': -1}

// skipValue returns the index after the value that starts at b[i]: a string, an object or array
// (by depth, skipping strings), or a scalar (up to the next delimiter).
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		if blockScan {
			return skipContainerBlocks(b, i)
		}
		return skipContainer(b, i)
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j, j > i
		}
		j++
	}
	return j, j > i
}

// skipContainer returns the index after the object or array that starts at b[i], a byte at a time
// between strings.
func skipContainer(b []byte, i int) (int, bool) {
	// Between strings each byte only moves the depth, without a branch on which byte it is.
	depth := 1
	for j := i + 1; j < len(b); {
		c := b[j]
		if c != '"' {
			depth += depthStep[c]
			j++
			if depth == 0 {
				return j, true
			}
			continue
		}
		// Most strings in a body are short (member names, schema types, ids): the first word
		// after the quote holds their end, found here without a call.
		if j+9 <= len(b) {
			if m := quotes(binary.LittleEndian.Uint64(b[j+1:])); m != 0 {
				if k := j + 1 + bits.TrailingZeros64(m)>>3; b[k-1] != '\\' {
					j = k + 1
					continue
				}
			}
		}
		k, ok := skipString(b, j)
		if !ok {
			return 0, false
		}
		j = k
	}
	return 0, false
}
