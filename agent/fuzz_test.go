package agent

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzSqueeze: whatever a CLI writes to its terminal, the prompt matcher's squeeze never panics,
// never grows its input and leaves no white space or control byte.
func FuzzSqueeze(f *testing.F) {
	f.Add([]byte("Do you \x1b[1mwant\x1b[0m to\r\n continue? [Y/n] "))
	f.Add([]byte("\x1b]0;title\x07text\x1b]8;;http://x\x1b\\link"))
	f.Add([]byte("\x1b[?25l\x1b"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := squeeze(in)
		if len(out) > len(in) {
			t.Fatalf("grew: %q -> %q", in, out)
		}
		if i := bytes.IndexFunc(out, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
			t.Fatalf("kept %q at %d in %q", out[i], i, out)
		}
	})
}

// FuzzCmdlineValue: a value read from the kernel command line never holds white space.
func FuzzCmdlineValue(f *testing.F) {
	f.Add("console=ttyS0 polydev.ca=abc polydev.egress=10.0.2.100:3128")
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []string{"polydev.ca", "polydev.egress", "polydev.selftest"} {
			if v := CmdlineValue(s, k); strings.ContainsAny(v, " \t\n") {
				t.Fatalf("%s=%q has white space", k, v)
			}
		}
	})
}
