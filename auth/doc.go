// Package auth owns Polydev's credential primitives: argon2id password hashes, API token secrets
// ("pd_" + 256 random bits) and browser session secrets. It knows nothing of HTTP or storage: it turns
// secrets into what may be stored (hashes) and checks presented secrets against them.
package auth
