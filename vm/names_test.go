package vm

import (
	"slices"
	"strings"
	"testing"
)

func TestNamesDeterministicAndShort(t *testing.T) {
	t.Parallel()
	ids := []string{"a", "0b8f6c1e-4f7a-4f43-9a55-5d2d1c0e9f10", strings.Repeat("x", MaxIDLen)}
	for _, id := range ids {
		n := Names(id)
		if n != Names(id) {
			t.Fatalf("Names(%q) not deterministic", id)
		}
		if n.ID != id || len(n.Key) != KeyLen {
			t.Errorf("Names(%q) = %+v", id, n)
		}
		for field, name := range map[string]string{"process": n.Process, "netns": n.Netns, "tap": n.TAP} {
			if len(name) > 15 {
				t.Errorf("Names(%q).%s = %q is %d chars, Linux allows 15", id, field, name, len(name))
			}
		}
		for _, file := range []string{n.Socket, n.Overlay, n.MemFile, n.StateFile, n.PIDFile, n.LogFile} {
			if !strings.HasPrefix(file, ProcessPrefix+n.Key) || strings.ContainsRune(file, '/') {
				t.Errorf("file name %q must be derived from the key only", file)
			}
		}
	}
	if Names("a").Key == Names("b").Key {
		t.Error("different ids gave the same key")
	}
}

func TestKeyOf(t *testing.T) {
	t.Parallel()
	n := Names("vm-1")
	tests := []struct {
		name string
		ok   bool
	}{
		{n.Process, true},
		{n.Socket, true},
		{n.Overlay, true},
		{n.MemFile, true},
		{n.StateFile, true},
		{n.PIDFile, true},
		{n.LogFile, true},
		{n.Netns, true},
		{n.TAP, true},
		{n.Netns + ".sock", false}, // only the process stem carries file suffixes
		{n.Process + ".txt", false},
		{"pdvm-ABCDEF0123", false}, // upper case is not ours
		{"pdvm-01234", false},      // too short
		{"pdtap-3", false},         // vm/netpool slot names are not VM-owned
		{"eth0", false},
		{"", false},
	}
	for _, tt := range tests {
		key, ok := KeyOf(tt.name)
		if ok != tt.ok {
			t.Errorf("KeyOf(%q) ok = %v, want %v", tt.name, ok, tt.ok)
		}
		if ok && key != n.Key {
			t.Errorf("KeyOf(%q) = %q, want %q", tt.name, key, n.Key)
		}
	}
}

func TestOrphans(t *testing.T) {
	t.Parallel()
	live, dead := Names("live-vm"), Names("dead-vm")
	found := []string{
		live.Socket, live.Overlay, live.Netns, live.TAP,
		dead.Socket, dead.Overlay, dead.MemFile, dead.Netns, dead.TAP,
		"eth0", "lo", "docker0", "golden.img", "pdnet-4",
	}
	got := Orphans(found, []string{"live-vm", "other-vm"})
	want := []string{dead.Socket, dead.Overlay, dead.MemFile, dead.Netns, dead.TAP}
	if !slices.Equal(got, want) {
		t.Errorf("Orphans = %v, want %v", got, want)
	}
	if got := Orphans(found[:4], []string{"live-vm"}); len(got) != 0 {
		t.Errorf("live resources reported as orphans: %v", got)
	}
}

// FuzzKeyOf checks the two properties reclaim relies on: every name Names makes is recognised with
// the right key, and anything KeyOf accepts has one of Polydev's shapes (so reclaim never deletes a
// foreign resource).
func FuzzKeyOf(f *testing.F) {
	for _, s := range []string{"vm-1", "pdvm-0123456789.sock", "pdvn-abcdefabcd", "pdtap-3", "eth0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Names(s)
		for _, name := range []string{n.Process, n.Socket, n.Overlay, n.MemFile, n.StateFile, n.PIDFile, n.LogFile, n.Netns, n.TAP} {
			if key, ok := KeyOf(name); !ok || key != n.Key {
				t.Fatalf("KeyOf(%q) = %q, %v; want %q", name, key, ok, n.Key)
			}
		}
		key, ok := KeyOf(s)
		if !ok {
			return
		}
		stem := s[:len(ProcessPrefix)+KeyLen]
		if len(key) != KeyLen || !isLowerHex(key) || !strings.HasSuffix(stem, key) ||
			!(strings.HasPrefix(s, ProcessPrefix) || s == NetnsPrefix+key || s == TAPPrefix+key) {
			t.Fatalf("KeyOf accepted %q (key %q), which Names cannot produce", s, key)
		}
	})
}
