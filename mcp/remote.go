package mcp

import (
	"net/http"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// RemoteTransport is the client side of a Polydev server's MCP endpoint: server is its base URL
// (http://host:port), token an MCP token sent as a bearer token on every request. base is the
// HTTP client's transport (nil: http.DefaultTransport).
func RemoteTransport(server, token string, base http.RoundTripper) *sdk.StreamableClientTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &sdk.StreamableClientTransport{
		Endpoint:   strings.TrimRight(server, "/") + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{token: token, next: base}},
		// The server is stateless: it sends nothing outside the response to a request.
		DisableStandaloneSSE: true,
	}
}

// bearer adds the token to each request (on a clone: a RoundTripper must not change its input).
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
