package vault

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// Envelope layout, version 1 (FORMAT.md has the full description):
//
//	magic(1) format(1) kind(1) keyVersion(4, big-endian) nonce(12) ciphertext‖tag(n+16)
//
// The first seven bytes (the header) are authenticated along with the
// caller's binding, so changing the kind or the key version breaks the tag.
const (
	// magic is a byte that never occurs in UTF-8, so text stored by mistake
	// in an encrypted column is told apart at a glance in a hex dump.
	magic      byte = 0xF5
	formatV1   byte = 1
	headerSize      = 7
	nonceSize       = 12
	tagSize         = 16
	overhead        = headerSize + nonceSize + tagSize
)

// kind separates what an envelope holds so that one cannot be opened as
// another, even when the same KEK seals both wrapped DEKs and secrets.
type kind byte

const (
	kindValue  kind = 1 // a value sealed with a caller-held key (a DEK): Seal
	kindDEK    kind = 2 // a DEK wrapped by a KEK: Keyring.WrapDEK
	kindSecret kind = 3 // a value sealed directly by a KEK: Sealer
)

type header struct {
	kind    kind
	version int
}

// parseHeader validates everything that can be checked without a key. Any
// failure is ErrDecrypt, as for a bad tag.
func parseHeader(env []byte) (header, error) {
	if len(env) < overhead || env[0] != magic || env[1] != formatV1 {
		return header{}, ErrDecrypt
	}
	k := kind(env[2])
	v := binary.BigEndian.Uint32(env[3:headerSize])
	if k < kindValue || k > kindSecret || v == 0 || v > maxVersion {
		return header{}, ErrDecrypt
	}
	return header{kind: k, version: int(v)}, nil
}

// seal encrypts under a fresh random nonce. Random 96-bit nonces are safe for
// about 2^32 messages per key, far beyond one user's DEK or the platform KEK.
func seal(aead cipher.AEAD, k kind, version int, binding, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: reading random nonce: %w", err)
	}
	return sealWithNonce(aead, k, version, nonce, binding, plaintext), nil
}

// sealWithNonce is seal with the nonce supplied. Only tests call it directly,
// to pin the format with known-answer vectors.
func sealWithNonce(aead cipher.AEAD, k kind, version int, nonce, binding, plaintext []byte) []byte {
	out := make([]byte, headerSize, overhead+len(plaintext))
	out[0], out[1], out[2] = magic, formatV1, byte(k)
	binary.BigEndian.PutUint32(out[3:headerSize], uint32(version))
	ad := associatedData(out, binding)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, ad)
}

// open decrypts an envelope whose header the caller has already parsed.
func open(aead cipher.AEAD, env, binding []byte) ([]byte, error) {
	nonce := env[headerSize : headerSize+nonceSize]
	plaintext, err := aead.Open(nil, nonce, env[headerSize+nonceSize:], associatedData(env, binding))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// associatedData is the envelope header followed by the caller's binding.
func associatedData(env, binding []byte) []byte {
	ad := make([]byte, 0, headerSize+len(binding))
	ad = append(ad, env[:headerSize]...)
	return append(ad, binding...)
}

// EnvelopeVersion returns the key version recorded in an envelope (a sealed
// value, a wrapped DEK or a Sealer secret) without decrypting it, so the
// rewrap job can find what still uses an old version. The version is not
// authenticated until the envelope is opened.
func EnvelopeVersion(envelope []byte) (int, error) {
	h, err := parseHeader(envelope)
	if err != nil {
		return 0, err
	}
	return h.version, nil
}
