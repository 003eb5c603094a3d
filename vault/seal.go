package vault

import (
	"crypto/cipher"
	"fmt"
)

// Seal encrypts plaintext with a 32-byte key (normally a user's DEK) and binds
// it to aad and keyVersion. keyVersion is whatever version the caller tracks
// for key; it is stored in the envelope and authenticated, and EnvelopeVersion
// reads it back. Sealing the same value twice gives different bytes.
func Seal(key []byte, keyVersion int, aad AAD, plaintext []byte) ([]byte, error) {
	aead, err := valueAEAD(key)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(keyVersion); err != nil {
		return nil, err
	}
	binding, err := aad.encode()
	if err != nil {
		return nil, err
	}
	return seal(aead, kindValue, keyVersion, binding, plaintext)
}

// Open decrypts an envelope made by Seal with the same key and aad. Every
// malformed or tampered envelope, and every envelope sealed for another aad,
// gives ErrDecrypt; Open never panics on its input.
func Open(key []byte, aad AAD, envelope []byte) ([]byte, error) {
	aead, err := valueAEAD(key)
	if err != nil {
		return nil, err
	}
	binding, err := aad.encode()
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(envelope)
	if err != nil || h.kind != kindValue {
		return nil, ErrDecrypt
	}
	return open(aead, envelope, binding)
}

// valueAEAD insists on AES-256: aes.NewCipher would quietly accept a 16- or
// 24-byte key passed by mistake.
func valueAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("vault: key is %d bytes, want %d", len(key), KeySize)
	}
	return newGCM(key)
}
