// Package polydev holds the domain of Polydev, a self-hostable AI gateway: the nouns (users, sessions,
// API tokens, tier limits, ...), the service and store interfaces over them, and the one error type that
// every layer speaks. Packages below it implement these interfaces (store/sqlite, store/postgres, web, ...)
// and depend inward; this package imports nothing of theirs.
package polydev

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Version is set at build time with -ldflags "-X github.com/polydev/polydev.Version=...".
var Version = "dev"

// NewID returns a random RFC 4122 version 4 UUID in its canonical text form. Ids are random so that
// they reveal nothing about how many rows exist and cannot be guessed.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(&b)
}

// NewTimeID returns an RFC 9562 version 7 UUID for time t: the Unix time in milliseconds, then
// the fraction of the millisecond in 12 bits (the RFC's method 3, about 244 ns each), then 62
// random bits. It is for rows written in their time order at a high rate (usage records): their
// index grows at its end instead of at a random place, so a batch of inserts changes a few pages
// rather than one page per row, and rows of the same millisecond sort in the order they were
// made (a request log listed newest first stays in order). It reveals the creation time (which
// such rows carry anyway), never a count, and cannot be guessed.
func NewTimeID(t time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[8:])
	ms := uint64(max(t.UnixMilli(), 0))
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	frac := uint64(t.Nanosecond()%1e6) << 12 / 1e6 // 0..4095
	b[6] = 0x70 | byte(frac>>8)
	b[7] = byte(frac)
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(&b)
}

func formatUUID(b *[16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// ValidID reports whether s has the shape of an id made by NewID (any UUID in lower-case canonical form).
// Handlers check path ids with it so that garbage never reaches the database.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// Now is the clock used by the domain; tests of expiry logic replace it through the services' own
// clock fields rather than this variable, which exists only as the default.
func Now() time.Time { return time.Now().UTC() }
