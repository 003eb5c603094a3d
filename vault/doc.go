// Package vault owns encryption at rest: the keyring of versioned master keys
// (KEKs), per-owner data keys (DEKs) wrapped by those KEKs, and the versioned
// AES-256-GCM envelope every encrypted column stores.
//
// The layering is deliberately plain envelope encryption:
//
//	KEK (Keyring, from POLYDEV_MASTER_KEY or the key file)
//	 └─ wraps ─ DEK per user or scope   (Keyring.WrapDEK / UnwrapDEK / Rewrap)
//	             └─ seals ─ column values (Seal / Open)
//	KEK ─ seals ─ platform secrets with no owner (Sealer)
//
// Every ciphertext is bound by associated data to where it lives (table,
// column, row id, user id) and to the key version in its header, so a value
// copied to another row, column, user or table fails to open. Rotating a KEK
// only re-wraps the small DEKs; values sealed with a DEK never need rewriting.
//
// The package must not touch SQL, HTTP or logging: it turns bytes into bytes and
// its only I/O is the key file. Callers decide where envelopes are stored and
// log what happened (for example that a new key file was created). Errors never
// contain key material, and authentication failures are all the one ErrDecrypt
// so that callers cannot leak which check failed. See FORMAT.md for the byte
// layouts and the rotation procedure.
package vault
