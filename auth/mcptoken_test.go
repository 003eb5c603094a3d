package auth

import (
	"strings"
	"testing"
)

// TestMCPTokenKinds: an MCP token parses only as an MCP token and an API token only as an API token,
// so neither can stand in for the other wherever only one kind is accepted.
func TestMCPTokenKinds(t *testing.T) {
	t.Parallel()
	secret, hash := NewMCPToken()
	if !strings.HasPrefix(secret, "pdm_") || len(secret) != 47 {
		t.Fatalf("MCP token %q has the wrong shape", secret)
	}
	if got, err := ParseMCPToken(secret); err != nil || got != hash {
		t.Fatalf("ParseMCPToken(fresh) = %q, %v; want %q", got, err, hash)
	}
	if _, err := ParseToken(secret); err == nil {
		t.Fatal("an MCP token parsed as an API token")
	}
	api, _ := NewToken()
	if _, err := ParseMCPToken(api); err == nil {
		t.Fatal("an API token parsed as an MCP token")
	}
	if hint := TokenHint(secret); hint != "pdm_…"+secret[len(secret)-4:] {
		t.Fatalf("hint = %q", hint)
	}
}

func FuzzParseMCPToken(f *testing.F) {
	s, _ := NewMCPToken()
	f.Add(s)
	f.Add("pdm_")
	f.Fuzz(func(t *testing.T, in string) {
		hash, err := ParseMCPToken(in)
		if err != nil {
			return
		}
		if len(in) != 47 || !strings.HasPrefix(in, "pdm_") || hash != HashSecret(in) {
			t.Fatalf("ParseMCPToken accepted %q", in)
		}
	})
}
