package router

import (
	"net/http"
	"strconv"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// clientFor picks the HTTP client for a call on key k (docs/SECURITY.md, "Whose allow list"):
//
//   - a platform key: Client, under the operator's allow list;
//   - a user's own key, when the operator lets that user use private upstreams (by tier or by
//     email, POLYDEV_PRIVATE_UPSTREAMS_FOR): Client too;
//   - any other user's key: UserClient, which dials public addresses only.
//
// The choice is made for every attempt, so a user whose tier changes gets the new rule with the
// next request.
func (r *Router) clientFor(u *polydev.User, k *polydev.ProviderKey) (*http.Client, error) {
	r.clientsOnce.Do(func() {
		r.client, r.userClient = withTimeouts(r.Client, r.Timeouts), withTimeouts(r.UserClient, r.Timeouts)
	})
	if k.UserID == "" || r.Keys != nil && r.Keys.Private.Allows(u) {
		return r.client, nil
	}
	if r.userClient == nil {
		r.Log.Error("no upstream client for users' own keys (Router.UserClient); refusing the key", "key_id", k.ID)
		return nil, polydev.Errorf(polydev.EUNAVAILABLE, "your own keys cannot be used on this server right now; the administrator has been told")
	}
	return r.userClient, nil
}

// hidePrivate replaces the text of an upstream's error when the attempt reached a private host
// (an allow-listed address): that text describes the operator's internal service, not a provider's
// answer, and is for the operator's eyes. The client keeps the kind, status and retry advice; the
// text goes to the log at warn (already without the key: adapters redact it), except in ephemeral
// mode, where no content may reach a log. Polydev's own messages (a network failure, a timeout, a
// cancellation, unparseable bytes) say nothing about the host and are kept.
func (c *Call) hidePrivate(err error) error {
	if err == nil || c.router.ShowPrivateErrors || !c.dest.Private() {
		return err
	}
	e, ok := llm.AsError(err)
	if !ok || e.Status == 0 && !e.InStream {
		return err
	}
	switch e.Kind {
	case llm.ErrNetwork, llm.ErrTimeout, llm.ErrCanceled, llm.ErrMalformed:
		return err
	}
	attrs := []any{"provider", e.Provider, "kind", e.Kind, "status", e.Status, "in_stream", e.InStream}
	if c.key != nil {
		attrs = append(attrs, "key_id", c.key.ID, "platform_key", c.key.UserID == "")
	}
	if !c.Ephemeral {
		attrs = append(attrs, "upstream_type", e.Type, "upstream_message", e.Message)
	}
	c.router.Log.Warn("private upstream failed; its message is not shown to the client", attrs...)
	hidden := *e
	hidden.Message = "the upstream (a private host configured on this server) reported an error"
	if e.Status != 0 {
		hidden.Message = "the upstream (a private host configured on this server) answered HTTP " + strconv.Itoa(e.Status)
	}
	hidden.Message += "; its message is not shown here (the server's log has it)"
	hidden.Type = ""
	return &hidden
}
