package vault

import "errors"

var (
	// ErrDecrypt is returned for every authentication failure and every
	// malformed envelope. It is deliberately one error with no detail: telling
	// a caller which byte or check failed would turn Open into an oracle.
	ErrDecrypt = errors.New("vault: decryption failed")

	// ErrUnknownKeyVersion means the envelope names a KEK version the keyring
	// does not hold: it was retired, or the wrong keyring was configured.
	ErrUnknownKeyVersion = errors.New("vault: unknown key version")

	// ErrInsecureKeyFile means the key file is readable or writable by group or
	// others. Loading it anyway would hide a leak, so the operator has to fix it.
	ErrInsecureKeyFile = errors.New("vault: key file permissions are too open")
)
