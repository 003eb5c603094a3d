package auth

import (
	"testing"

	"github.com/polydev/polydev"
)

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" = refused
	}{
		{"  Alice@Example.COM ", "alice@example.com"},
		{"bob+tag@example.org", "bob+tag@example.org"},
		// One address typed two ways (precomposed é, and e + combining acute) is one account.
		{"jos\u00e9@example.com", "jos\u00e9@example.com"},
		{"jose\u0301@example.com", "jos\u00e9@example.com"},
		{"JOS\u00c9@EXAMPLE.COM", "jos\u00e9@example.com"},
		{"\u0438\u0432\u0430\u043d@example.com", "\u0438\u0432\u0430\u043d@example.com"},           // all-Cyrillic local part
		{"\u5c71\u7530\u305f\u308d\u3046@example.jp", "\u5c71\u7530\u305f\u308d\u3046@example.jp"}, // Han + Hiragana: Japanese
		{"user1_2@example.com", "user1_2@example.com"},

		{"p\u0430ypal@example.com", ""}, // Cyrillic а among Latin letters
		{"alice@ex\u0430mple.com", ""},  // in the domain
		{"\u03b1lice@example.com", ""},  // Greek alpha
		{"bad\xffbyte@example.com", ""}, // invalid UTF-8 is refused, never repaired
		{"", ""}, {"   ", ""}, {"no-at-sign", ""}, {"Alice <alice@example.com>", ""}, {"a@b@c", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if tt.want == "" {
			if err == nil || polydev.ErrorCode(err) != polydev.EINVALID {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want EINVALID", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"a@b.c", "jose\u0301@example.com", "p\u0430ypal@x.y", "\xff@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		// What is accepted is stable: normalizing again gives the same address.
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, but again = %q, %v", s, got, again, err)
		}
	})
}
