package mcp

import (
	"context"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/perspectives"
	"github.com/polydev/polydev/gateway/llm"
)

// defaultModels are asked when get_perspectives names none: one per provider, those the caller can
// use (their own keys or the platform's, and their tier's model list).
var defaultModels = []string{"openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"}

// getPerspectives asks every model at once. Each model is one gateway call, exactly as a
// /v1/chat/completions request for it would be (admission, tier rules, keys and failover,
// reservation, usage record), run in its own goroutine; the tool returns when the slowest is
// done. A model that fails, or that a limit refuses, is one failed answer among the others.
func (s *Server) getPerspectives(ctx context.Context, req *sdk.CallToolRequest, in perspectives.Input) (*sdk.CallToolResult, perspectives.Output, error) {
	arrival := time.Now()
	u, err := caller(req.Extra)
	if err != nil {
		return nil, perspectives.Output{}, err
	}
	if err := in.Validate(); err != nil {
		return toolError(err), perspectives.Output{}, nil
	}
	models := in.Models
	if len(models) == 0 {
		if models, err = s.usableDefaults(ctx, u); err != nil {
			return toolError(err), perspectives.Output{}, nil
		}
	}
	out := perspectives.Output{Answers: make([]perspectives.Answer, len(models))}
	costs := make([]polydev.Money, len(models)) // summed exactly, then shown in dollars
	prog := &progress{req: req, total: len(models)}
	var wg sync.WaitGroup
	for i, m := range models {
		wg.Go(func() {
			a, cost := s.ask(ctx, u, &in, m, arrival)
			out.Answers[i], costs[i] = a, cost
			prog.done(ctx, a)
		})
	}
	wg.Wait()
	var total polydev.Money
	for _, c := range costs {
		total += c // each at most polydev.MaxMoney (pricing saturates), MaxModels of them: no overflow
	}
	out.TotalCost = total.Dollars()
	return &sdk.CallToolResult{IsError: out.AllFailed(), Content: []sdk.Content{&sdk.TextContent{Text: out.Text()}}}, out, nil
}

// ask runs one model's call and keeps its turn as the call's ephemeral mode allows.
func (s *Server) ask(ctx context.Context, u *polydev.User, in *perspectives.Input, model string, arrival time.Time) (perspectives.Answer, polydev.Money) {
	route, err := s.d.Router.Resolve(ctx, model)
	if err != nil {
		return perspectives.Failed(model, err), 0
	}
	call := s.d.Router.Start(u, "mcp", route, in.Request(model), arrival)
	call.SessionID, call.BodyBytes = polydev.NewID(), len(in.Prompt)+len(in.System)
	began := time.Now()
	resp, err := call.Do(ctx)
	if err != nil {
		call.Finish(llm.Usage{}, err, s.d.Status(err))
		a := perspectives.Failed(route.Model, err)
		a.DurationMS = time.Since(began).Milliseconds()
		return a, call.Cost
	}
	// Do stored the usage record: the answer carries the tokens and cost it holds.
	text := resp.Text()
	a := perspectives.Succeeded(route.Model, text, call.Usage, call.Cost)
	a.DurationMS = time.Since(began).Milliseconds()
	if s.d.Keep != nil {
		// Off the answer's path: the slowest model's turn would otherwise be one more database
		// write (milliseconds under load) between its answer and the tool's result. The web chat
		// keeps its turn after the response too; the usage record is durable already (Do). The
		// agent may be gone by then; what was answered is still kept, and Close waits for it.
		s.keeping.Go(func() {
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			s.d.Keep(kctx, call, in.Prompt, text)
		})
	}
	return a, call.Cost
}

// usableDefaults is defaultModels narrowed to those the user can run.
func (s *Server) usableDefaults(ctx context.Context, u *polydev.User) ([]string, error) {
	avail, err := s.d.Router.Models(ctx, u)
	if err != nil {
		return nil, err
	}
	usable := map[string]bool{}
	for _, m := range avail {
		usable[m.Model] = true
	}
	var out []string
	for _, m := range defaultModels {
		if usable[m] {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, polydev.Errorf(polydev.EINVALID, "name the models to ask (none of the defaults %v is available to you; list_models shows what is)", defaultModels)
	}
	return out, nil
}

// progress sends a progress notification as each answer arrives, when the client asked for them
// (a progress token on the call).
type progress struct {
	req   *sdk.CallToolRequest
	total int
	mu    sync.Mutex
	n     int
}

func (p *progress) done(ctx context.Context, a perspectives.Answer) {
	tok := p.req.Params.GetProgressToken()
	if tok == nil {
		return
	}
	msg := a.Model + " answered"
	if a.Error != nil {
		msg = a.Model + " failed: " + a.Error.Message
	}
	// Serialised so that the counts reach the client in increasing order.
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	_ = p.req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: tok, Progress: float64(p.n), Total: float64(p.total), Message: msg})
}
