package vault

// Sealer encrypts values directly under the keyring's KEKs, for platform-wide
// secrets that no user owns (platform provider API keys, for example). It is
// its own type so that a component which only handles such secrets can be
// given a Sealer rather than the whole Keyring with its DEKs and rotation.
type Sealer struct {
	kr *Keyring
}

// NewSealer returns a Sealer using kr.
func NewSealer(kr *Keyring) *Sealer { return &Sealer{kr: kr} }

// Seal encrypts plaintext under the active KEK, bound to aad.
func (s *Sealer) Seal(aad AAD, plaintext []byte) ([]byte, error) {
	envelope, _, err := s.seal(aad, plaintext)
	return envelope, err
}

// Open decrypts an envelope made by Seal, with the KEK version it records.
// It fails with ErrUnknownKeyVersion if that version was retired and with
// ErrDecrypt for anything malformed, tampered or sealed for another aad.
func (s *Sealer) Open(aad AAD, envelope []byte) ([]byte, error) {
	binding, err := aad.encode()
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(envelope)
	if err != nil || h.kind != kindSecret {
		return nil, ErrDecrypt
	}
	aead, err := s.kr.aead(h.version)
	if err != nil {
		return nil, err
	}
	return open(aead, envelope, binding)
}

// Reseal opens envelope and seals its plaintext again under the active KEK,
// returning the new envelope and its KEK version: the Sealer's share of a
// rotation, since these values have no DEK to re-wrap.
func (s *Sealer) Reseal(aad AAD, envelope []byte) ([]byte, int, error) {
	plaintext, err := s.Open(aad, envelope)
	if err != nil {
		return nil, 0, err
	}
	defer clear(plaintext)
	return s.seal(aad, plaintext)
}

func (s *Sealer) seal(aad AAD, plaintext []byte) ([]byte, int, error) {
	binding, err := aad.encode()
	if err != nil {
		return nil, 0, err
	}
	aead, version, err := s.kr.activeAEAD()
	if err != nil {
		return nil, 0, err
	}
	envelope, err := seal(aead, kindSecret, version, binding, plaintext)
	if err != nil {
		return nil, 0, err
	}
	return envelope, version, nil
}
