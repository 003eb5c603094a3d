package vault

// WrapDEK makes a fresh random 32-byte data key for ownerID (a user id or
// another scope) and wraps it under the active KEK. Store wrapped (and, if
// useful for queries, kekVersion) with the owner; keep dek only as long as
// needed and clear it after use. The wrap is bound to ownerID, so a wrapped
// DEK copied to another owner does not unwrap.
func (kr *Keyring) WrapDEK(ownerID string) (dek, wrapped []byte, kekVersion int, err error) {
	dek, err = randomKey()
	if err != nil {
		return nil, nil, 0, err
	}
	wrapped, kekVersion, err = kr.wrap(ownerID, dek)
	if err != nil {
		clear(dek)
		return nil, nil, 0, err
	}
	return dek, wrapped, kekVersion, nil
}

// UnwrapDEK recovers the data key of ownerID. The KEK version comes from the
// blob, so blobs wrapped before a rotation still unwrap; one whose version has
// been retired gives ErrUnknownKeyVersion, and any other failure ErrDecrypt.
func (kr *Keyring) UnwrapDEK(ownerID string, wrapped []byte) ([]byte, error) {
	binding, err := ownerBinding(ownerID)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(wrapped)
	if err != nil || h.kind != kindDEK {
		return nil, ErrDecrypt
	}
	aead, err := kr.aead(h.version)
	if err != nil {
		return nil, err
	}
	dek, err := open(aead, wrapped, binding)
	if err != nil {
		return nil, err
	}
	if len(dek) != KeySize {
		clear(dek)
		return nil, ErrDecrypt
	}
	return dek, nil
}

// Rewrap unwraps a DEK and wraps the same DEK again under the active KEK,
// returning the new blob and its KEK version. The DEK itself does not change,
// so nothing sealed with it needs re-encrypting. It re-wraps even a blob
// already under the active version; the rewrap job selects rows with
// EnvelopeVersion (or a stored version column) to avoid needless writes.
func (kr *Keyring) Rewrap(ownerID string, wrapped []byte) (rewrapped []byte, kekVersion int, err error) {
	dek, err := kr.UnwrapDEK(ownerID, wrapped)
	if err != nil {
		return nil, 0, err
	}
	defer clear(dek)
	return kr.wrap(ownerID, dek)
}

func (kr *Keyring) wrap(ownerID string, dek []byte) ([]byte, int, error) {
	binding, err := ownerBinding(ownerID)
	if err != nil {
		return nil, 0, err
	}
	aead, version, err := kr.activeAEAD()
	if err != nil {
		return nil, 0, err
	}
	wrapped, err := seal(aead, kindDEK, version, binding, dek)
	if err != nil {
		return nil, 0, err
	}
	return wrapped, version, nil
}
