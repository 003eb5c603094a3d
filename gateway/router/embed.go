package router

import (
	"context"
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
)

// StartEmbed begins an embeddings call for route: the same admission, keys, reservations,
// failover and usage record as a generation (Surface "embeddings"), with nothing reserved for
// output. e may be empty for a call run as a passthrough (Raw): the body carries the inputs.
func (r *Router) StartEmbed(u *polydev.User, route *Route, e *llm.EmbedRequest, arrival time.Time) *Call {
	e.Model = route.Upstream
	c := r.Start(u, "embeddings", route, &llm.Request{Model: route.Upstream}, arrival)
	c.embed = e
	return c
}

// Embed runs an embeddings call started with StartEmbed, failing over between keys. The usage
// record is stored before Embed returns. A provider without an embeddings API, or inputs it cannot
// take, are refused before anything is counted or reserved.
func (c *Call) Embed(ctx context.Context) (*llm.EmbedResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, MaxCallDuration)
	defer cancel()
	ad, ok := c.router.adapter(c.Route.Provider).(provider.Embedder)
	if !ok {
		return nil, polydev.Errorf(polydev.EINVALID, "model: %s has no embeddings API; use an openai/, openai-compatible/ or gemini/ embedding model", c.Route.Provider)
	}
	if len(c.embed.Tokens) > 0 && c.Route.Provider != polydev.ProviderOpenAI && c.Route.Provider != polydev.ProviderOpenAICompatible {
		return nil, polydev.Errorf(polydev.EINVALID, "input: token arrays are supported by OpenAI models only; send text")
	}
	var resp *llm.EmbedResponse
	err := c.try(ctx, func(ctx context.Context, client *http.Client, t provider.Target) error {
		var err error
		resp, err = ad.Embed(ctx, client, t, c.embed)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.finish(resp.Usage, nil, 200, true)
	return resp, nil
}
