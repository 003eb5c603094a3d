package netguard

import (
	"net/netip"
	"net/url"
)

// EnvAllowList is the operator setting parsed by [ParseAllowList]; error
// messages name it so the fix is one search away.
const EnvAllowList = "POLYDEV_ALLOW_PRIVATE_UPSTREAMS"

// BlockedError reports a refused upstream URL or connection. Its fields and
// message only ever carry a host name or an address, never URL userinfo,
// paths or query strings, so it is safe to log and to show to the user who
// typed the URL.
type BlockedError struct {
	// Dest is the host as the caller named it (a DNS name or an address), or
	// "" when the URL was too malformed to have one.
	Dest string
	// Addr is the offending address; zero when the refusal is about the URL
	// itself (scheme, credentials, port, ...).
	Addr netip.Addr
	// Reason completes the sentence "destination X is ..." when Addr is set
	// or names the problem otherwise.
	Reason string
	// AllowListable is true when adding Addr to the allow list would lift the
	// refusal, so the message can say how.
	AllowListable bool
}

func (e *BlockedError) Error() string {
	if !e.Addr.IsValid() {
		if e.Dest == "" {
			return "netguard: " + e.Reason
		}
		return "netguard: upstream " + e.Dest + ": " + e.Reason
	}
	msg := "netguard: destination " + e.destLabel() + " is " + e.Reason
	if e.AllowListable {
		msg += "; set " + EnvAllowList + " to allow it"
	}
	return msg
}

// ClientMessage is the refusal as told to whoever typed the URL: like Error, but when the URL named
// a host by name, the address it resolved to is left out (it would map the operator's internal
// names for anyone who asks), and so is the setting to change.
func (e *BlockedError) ClientMessage() string {
	if !e.Addr.IsValid() || e.Dest == "" || e.Dest == e.Addr.String() {
		if e.Addr.IsValid() {
			return "destination " + e.Addr.String() + " is " + e.Reason
		}
		return (&BlockedError{Dest: e.Dest, Reason: e.Reason}).Error()[len("netguard: "):]
	}
	return "destination " + e.Dest + " is " + e.Reason
}

func (e *BlockedError) destLabel() string {
	addr := e.Addr.String()
	if e.Dest == "" || e.Dest == addr {
		return addr
	}
	return e.Dest + " (" + addr + ")"
}

// redactURL keeps only scheme and host: userinfo and query may hold secrets,
// and some providers put keys in the path.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
