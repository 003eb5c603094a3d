package polydev

import (
	"strings"
	"testing"
	"time"
)

func TestNewIDShape(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || seen[id] {
			t.Fatalf("NewID %q: not a fresh version 4 UUID", id)
		}
		seen[id] = true
	}
}

// TestNewTimeID: version 7, ordered by time (text order = time order, across a millisecond), the
// timestamp readable from the text, and random below it.
func TestNewTimeID(t *testing.T) {
	at := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 2000 {
		id := NewTimeID(at.Add(time.Duration(i/2) * time.Millisecond))
		if !ValidID(id) || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) || seen[id] {
			t.Fatalf("NewTimeID %q: not a fresh version 7 UUID", id)
		}
		seen[id] = true
		if i%2 == 0 && id <= prev {
			t.Fatalf("%q (ms %d) sorts before %q", id, i/2, prev)
		}
		prev = id
	}
	// Within a millisecond, a later time sorts later (the fraction, to about 244 ns), and the
	// same time still gives different ids.
	prev = ""
	for i := range 4080 { // 4080 × 245 ns: within the millisecond, one step of the fraction or more apart
		id := NewTimeID(at.Add(time.Duration(i) * 245 * time.Nanosecond))
		if id <= prev || id[:13] != "01a21d85-3980" {
			t.Fatalf("%q at %d ns into the millisecond sorts before %q, or is in another millisecond", id, i*245, prev)
		}
		prev = id
	}
	if NewTimeID(at) == NewTimeID(at) {
		t.Fatal("the same time gave the same id twice")
	}
	// 0x01a21d853980 is 1795791600000 ms, the time above.
	if id := NewTimeID(at); !strings.HasPrefix(id, "01a21d85-3980-7") {
		t.Fatalf("NewTimeID(%v) = %q, want the millisecond timestamp 01a21d853980 first", at, id)
	}
}
