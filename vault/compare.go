package vault

import "crypto/subtle"

// Equal reports whether two secrets (token hashes, MACs, keys) are equal in
// time that does not depend on where they differ, so a remote caller timing
// the comparison learns nothing about a stored secret. The length is not
// hidden; compare fixed-size values such as SHA-256 digests.
func Equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
