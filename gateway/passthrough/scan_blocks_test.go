package passthrough

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// scalarMasks is vectorMasks a byte at a time, for the block logic on any machine.
func scalarMasks(b []byte, j int) (q, bs, open, close uint64) {
	for k := 0; k < 64 && j+k < len(b); k++ {
		switch b[j+k] {
		case '"':
			q |= 1 << k
		case '\\':
			bs |= 1 << k
		case '{', '[':
			open |= 1 << k
		case '}', ']':
			close |= 1 << k
		}
	}
	return q, bs, open, close
}

// blockInputs are containers that put backslash runs, quotes and brackets across block edges at
// every offset, valid JSON or not (the block scan must agree with skipContainer on anything).
func blockInputs(t testing.TB) []string {
	var in []string
	for pre := range 70 {
		for run := range 7 {
			s := strings.Repeat("x", pre) + strings.Repeat(`\`, run) + `"` + strings.Repeat("y", 70-pre) + `]}`
			in = append(in, `{"v":"`+s+`","w":[1,{"k":"`+s+`"}]}`, `[`+strings.Repeat(" ", pre)+`"`+s+`"]`)
			in = append(in, `{"a":"`+strings.Repeat(`\`, pre+run)+`","b":[[["]"]]]}`)
		}
	}
	// A backslash run at a block's end, then a block with no quote and no backslash, then a
	// quote: the run must not reach past the block in between.
	for off := range 130 {
		for n := 60; n <= 70; n++ {
			in = append(in, `{"a":"`+strings.Repeat("x", off)+`\`+strings.Repeat("n", n)+`","b":[1]}`)
		}
	}
	in = append(in, `{"a":"`+strings.Repeat(`\\`, 64)+`"}`, `{"a":"`+strings.Repeat(`\`, 129)+`"}]`, `{}`, `[]`, `{`, `["`, `[\"]"]`, `{"a":\"x"}`)
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{`"`, `\`, `\\`, `\"`, `{`, `}`, `[`, `]`, `:`, `,`, " ", "a", "é", "\n", strings.Repeat("z", 40)}
	for range 3000 {
		var b strings.Builder
		b.WriteString([]string{"{", "["}[rng.IntN(2)])
		for range rng.IntN(200) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		in = append(in, b.String())
	}
	in = append(in, string(claudeCodeBody(t)))
	return in
}

// TestBlockScanAgrees: the block scan returns what skipContainer returns, from every bracket of
// every input, with masks made a byte at a time and (where the machine has them) by vector
// compares.
func TestBlockScanAgrees(t *testing.T) {
	t.Parallel()
	for _, s := range blockInputs(t) {
		b := []byte(s)
		for i, c := range b {
			if c != '{' && c != '[' {
				continue
			}
			wantEnd, wantOK := skipContainer(b, i)
			end, ok := skipBlocks(b, i, scalarMasks)
			if end != wantEnd || ok != wantOK {
				t.Fatalf("%.200q from %d: block scan %d %v, skipContainer %d %v", s, i, end, ok, wantEnd, wantOK)
			}
			for _, v := range vectorScans {
				if end, ok := v.skip(b, i); end != wantEnd || ok != wantOK {
					t.Fatalf("%.200q from %d: %s block scan %d %v, skipContainer %d %v", s, i, v.name, end, ok, wantEnd, wantOK)
				}
			}
		}
	}
	if !blockScan {
		t.Log("vector compares not in this build (GOEXPERIMENT=simd on amd64 with AVX2): checked the block logic with scalar masks only")
	}
}

// TestEscapes: the bytes after odd backslash runs, runs carried across blocks included, against a
// byte-at-a-time count.
func TestEscapes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, 64*3)
		for k := range b {
			if rng.IntN(3) > 0 {
				b[k] = '\\'
			} else {
				b[k] = 'x'
			}
		}
		var run backslashRun
		count := 0
		for blk := 0; blk < 3; blk++ {
			_, bs, _, _ := scalarMasks(b, blk*64)
			var escaped uint64
			escaped, run = escapes(bs, run)
			for k := range 64 {
				// Only what follows a run matters (a quote is never a backslash).
				want := count%2 == 1
				if got := escaped>>k&1 != 0; b[blk*64+k] != '\\' && got != want {
					t.Fatalf("block %d byte %d of %q: escaped %v, want %v", blk, k, b, got, want)
				}
				if b[blk*64+k] == '\\' {
					count++
				} else {
					count = 0
				}
			}
		}
	}
}
