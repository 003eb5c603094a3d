package auth

import (
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

func TestPasswordRoundTrip(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not use the default parameters", h)
	}
	ok, err := VerifyPassword("correct horse battery staple", h)
	if err != nil || !ok {
		t.Fatalf("verify right password = %v, %v", ok, err)
	}
	ok, err = VerifyPassword("wrong", h)
	if err != nil || ok {
		t.Fatalf("verify wrong password = %v, %v", ok, err)
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if NeedsRehash(h) {
		t.Fatal("fresh hash reported as needing rehash")
	}
}

func TestVerifyMalformedHash(t *testing.T) {
	t.Parallel()
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // absurd memory
		"$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA",
	} {
		ok, err := VerifyPassword("x", h)
		if ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want false and an error", h, ok, err)
		}
	}
}

func TestTokenParse(t *testing.T) {
	t.Parallel()
	secret, hash := NewToken()
	if !strings.HasPrefix(secret, "pd_") || len(secret) != 46 {
		t.Fatalf("token %q has the wrong shape", secret)
	}
	got, err := ParseToken(secret)
	if err != nil || got != hash {
		t.Fatalf("ParseToken(fresh) = %q, %v; want %q", got, err, hash)
	}
	bad := []string{
		"", "pd_", secret[:45], secret + "A", "px_" + secret[3:], "PD_" + secret[3:],
		"pd_" + strings.Repeat("!", 43), "pd_" + strings.Repeat("A", 42) + "B", // non-canonical last char
		"' OR 1=1 --", "pd_" + strings.Repeat("A", 42) + "=",
	}
	for _, b := range bad {
		if _, err := ParseToken(b); err == nil {
			t.Errorf("ParseToken(%q) accepted", b)
		}
	}
	if hint := TokenHint(secret); hint != "pd_…"+secret[len(secret)-4:] {
		t.Fatalf("hint = %q", hint)
	}
}

func TestSessionSecret(t *testing.T) {
	t.Parallel()
	secret, id := NewSessionSecret()
	if SessionID(secret) != id {
		t.Fatal("SessionID does not match NewSessionSecret")
	}
	for _, bad := range []string{"", "x", secret + "x", strings.Repeat("!", len(secret))} {
		if SessionID(bad) != "" {
			t.Errorf("SessionID(%q) accepted", bad)
		}
	}
}

// FuzzParseToken: the token parser takes raw header bytes from anyone; it must never panic, and it may
// accept only strings that are canonical tokens.
func FuzzParseToken(f *testing.F) {
	s, _ := NewToken()
	for _, seed := range []string{s, "", "pd_", "pd_" + strings.Repeat("A", 43), "Bearer " + s, "pd_\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		hash, err := ParseToken(in)
		if err != nil {
			return
		}
		if len(in) != 46 || !strings.HasPrefix(in, "pd_") || hash != HashSecret(in) {
			t.Fatalf("accepted %q", in)
		}
	})
}

// TestMailSecret: a mailed secret parses only with its own prefix, so a verification secret is no
// reset secret and no API token.
func TestMailSecret(t *testing.T) {
	t.Parallel()
	secret, hash := NewMailSecret(ResetPrefix)
	if !strings.HasPrefix(secret, "pdr_") || len(secret) != 47 {
		t.Fatalf("secret %q has the wrong shape", secret)
	}
	if got, err := ParseMailSecret(secret, ResetPrefix); err != nil || got != hash {
		t.Fatalf("ParseMailSecret = %q, %v; want %q", got, err, hash)
	}
	if _, err := ParseMailSecret(secret, VerifyPrefix); err == nil {
		t.Fatal("a reset secret parsed as a verification secret")
	}
	if _, err := ParseToken(secret); err == nil {
		t.Fatal("a reset secret parsed as an API token")
	}
	for _, b := range []string{"", "pdr_", secret[:46], secret + "A", "pdr_" + strings.Repeat("!", 43)} {
		if _, err := ParseMailSecret(b, ResetPrefix); err == nil {
			t.Errorf("ParseMailSecret(%q) accepted", b)
		}
	}
}

// TestArgonLeavesNoInflatedHeapGoal: argon2id's 19 MiB are alive when the collection that their
// allocation starts marks them, which sets the collector's next goal at twice them; the
// collection afterwards must bring the goal back down (see idKey). Without it the goal stays
// above 38 MiB until the program has allocated that much.
func TestArgonLeavesNoInflatedHeapGoal(t *testing.T) {
	runtime.GC() // start from a small goal, so the hash's allocation starts a collection
	if _, err := HashPassword("correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	sample := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	const bound = 24 << 20
	deadline := time.Now().Add(20 * time.Second)
	for {
		metrics.Read(sample)
		goal := sample[0].Value.Uint64()
		if goal < bound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("heap goal %d MiB 20 s after an argon2id hash; want under %d MiB", goal>>20, bound>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
