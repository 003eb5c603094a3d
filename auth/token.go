package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// TokenPrefix marks Polydev API tokens, so that secret scanners and people can recognise them.
const TokenPrefix = "pd_"

// MCPTokenPrefix marks MCP tokens: credentials that reach only the MCP endpoint and the CLI status
// report, never the account, admin or billing API. The prefixes differ in shape ("pd_" vs "pdm_"),
// so one kind never parses as the other.
const MCPTokenPrefix = "pdm_"

const (
	secretBytes = 32                      // 256 bits of entropy
	secretChars = (secretBytes*8 + 5) / 6 // 43 base64url characters, no padding
	b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// ErrMalformedToken is returned by ParseToken for anything that is not a well-formed token.
var ErrMalformedToken = errors.New("auth: malformed token")

// NewToken returns a fresh API token secret and the SHA-256 hash under which it is stored.
func NewToken() (secret, hash string) { return newToken(TokenPrefix) }

// NewMCPToken returns a fresh MCP token secret ("pdm_...") and its stored hash.
func NewMCPToken() (secret, hash string) { return newToken(MCPTokenPrefix) }

func newToken(prefix string) (secret, hash string) {
	secret = prefix + randomSecret()
	return secret, HashSecret(secret)
}

// ParseToken checks that s has the exact shape of an API token (prefix, length, alphabet, canonical
// base64url) and returns the hash to look it up by. It never touches storage, so garbage is rejected
// cheaply and identically to an unknown token.
func ParseToken(s string) (hash string, err error) { return parsePrefixed(s, TokenPrefix) }

// ParseMCPToken is ParseToken for MCP tokens ("pdm_...").
func ParseMCPToken(s string) (hash string, err error) { return parsePrefixed(s, MCPTokenPrefix) }

func parsePrefixed(s, prefix string) (hash string, err error) {
	if len(s) != len(prefix)+secretChars || !strings.HasPrefix(s, prefix) {
		return "", ErrMalformedToken
	}
	body := s[len(prefix):]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(b64Alphabet, body[i]) < 0 {
			return "", ErrMalformedToken
		}
	}
	// The last character carries 2 unused bits; only the canonical encoding (those bits zero) is valid,
	// so one secret has exactly one spelling.
	if _, err := base64.RawURLEncoding.Strict().DecodeString(body); err != nil {
		return "", ErrMalformedToken
	}
	return HashSecret(s), nil
}

// Prefixes of the single-use secrets sent by mail, one per purpose, so a verification link can
// never be presented as a reset link and scanners can tell them apart.
const (
	VerifyPrefix = "pdv_"
	ResetPrefix  = "pdr_"
)

// NewMailSecret returns a fresh mailed secret with prefix and the SHA-256 hash under which it is stored.
func NewMailSecret(prefix string) (secret, hash string) { return newToken(prefix) }

// ParseMailSecret is ParseToken for a mailed secret with prefix.
func ParseMailSecret(s, prefix string) (hash string, err error) {
	return parsePrefixed(s, prefix)
}

// TokenHint returns what may be shown of a token after creation: the prefix and its last 4 characters.
func TokenHint(secret string) string {
	prefix := TokenPrefix
	if strings.HasPrefix(secret, MCPTokenPrefix) {
		prefix = MCPTokenPrefix
	}
	if len(secret) < len(prefix)+4 {
		return prefix + "…"
	}
	return prefix + "…" + secret[len(secret)-4:]
}

// NewSessionSecret returns a fresh browser session secret (cookie value) and its stored id.
func NewSessionSecret() (secret, id string) {
	secret = randomSecret()
	return secret, HashSecret(secret)
}

// SessionID returns the stored id for a presented cookie value, or "" when the value cannot be one.
func SessionID(cookie string) string {
	if len(cookie) != secretChars {
		return ""
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(cookie); err != nil {
		return ""
	}
	return HashSecret(cookie)
}

// HashSecret is the storage form of a high-entropy secret: hex SHA-256. (Passwords, which are low
// entropy, use argon2id instead.)
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func randomSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
