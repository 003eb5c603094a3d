// Package netguard keeps Polydev from being used as a server-side request
// forgery (SSRF) proxy: it decides which upstream URLs an admin or a BYOK user
// may configure, and it enforces the same decision again for every TCP
// connection the gateway opens to an upstream.
//
// It owns the list of special-purpose address ranges, the operator allow list
// (POLYDEV_ALLOW_PRIVATE_UPSTREAMS), URL validation at save time, and the
// dialer, transport and redirect policy used at connect time. It must not
// touch configuration storage, provider credentials or request bodies; callers
// hand it URLs and get back decisions.
//
// Two checks, because one is not enough:
//
//   - [Policy.CheckURL] runs when a URL is saved, so users get an immediate,
//     readable refusal.
//   - [Policy.DialContext] / [Policy.Control] run for every connection attempt,
//     on the address actually dialed, so a DNS name that resolved to a public
//     address at save time and to 127.0.0.1 later (DNS rebinding) is still
//     refused.
//
// Decisions, and why:
//
//   - https is always acceptable; plain http is accepted only when every
//     destination address is a non-public address that the allow list
//     permits. http exists for local model servers; sending provider keys in
//     clear text across the internet is never what anyone meant. This rule is
//     enforced at save time only: the dialer cannot see the URL scheme.
//   - Hosts that look like IPv4 numbers in any form browsers, curl or
//     inet_aton accept (2130706433, 0x7f.1, 0177.0.0.1, 127.1) are parsed the
//     way those clients parse them and the returned URL carries the canonical
//     dotted form, so what is checked is exactly what is dialed.
//   - IPv6 addresses that embed an IPv4 address (mapped, compatible, NAT64
//     64:ff9b::/96, 6to4 2002::/16) are judged by the embedded address too.
//   - Non-ASCII hosts are refused rather than IDNA-mapped: mapping is where
//     parsers disagree (fullwidth digits become an IP literal in some and
//     not others). Admins can enter the xn-- form.
//   - A name resolving to several addresses is refused at save time when any
//     of them is forbidden; at connect time only permitted addresses are
//     dialed, so a rebinding answer can never reach a forbidden one.
//   - The guarded transport honours an egress proxy (HTTPS_PROXY, HTTP_PROXY,
//     NO_PROXY): deployments often have no other way out. Through a proxy
//     the only address the dialer sees is the proxy's (the operator's
//     choice, dialed as is), so the destination is judged before the proxy
//     is asked: every address its name resolves to must be permitted. The
//     proxy resolves the name again; against DNS rebinding, such a
//     deployment relies on the proxy enforcing the same rules.
//   - Redirects are never followed ([CheckRedirect]). LLM APIs do not
//     redirect, and following one would resend provider keys carried in
//     custom headers (x-api-key, api-key), which net/http does not strip, to
//     wherever the upstream points.
//   - localhost, *.localhost and the cloud metadata names
//     (metadata.google.internal, ...) are never looked up: they are judged as
//     the address they stand for (127.0.0.1, ::1 for ip6-localhost,
//     169.254.169.254), so allow-listing that address permits them.
//   - Refusals are *[BlockedError]s whose text never contains URL userinfo,
//     query strings or paths, since those may hold secrets. An http.Client
//     wraps transport errors in a *url.Error that quotes the request URL;
//     log the BlockedError (errors.As), not the wrapper.
package netguard
