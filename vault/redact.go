package vault

import (
	"fmt"
	"log/slog"
)

// Format makes every fmt verb (%v, %+v, %#v, %x, ...) print a keyring as its
// versions only. Without it, %+v or %x would walk the struct and print keys.
func (kr *Keyring) Format(f fmt.State, verb rune) {
	if kr == nil {
		fmt.Fprint(f, "vault.Keyring(nil)")
		return
	}
	fmt.Fprintf(f, "vault.Keyring{active: v%d, versions: %v}", kr.Active(), kr.Versions())
}

// LogValue keeps keys out of slog output in the same way.
func (kr *Keyring) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("active", kr.Active()),
		slog.Any("versions", kr.Versions()),
	)
}
