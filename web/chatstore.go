package web

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/policy"
)

// chatTurn collects what one POST /api/chat/completions produced, so that it can be stored once the
// call is over. When the call runs in ephemeral mode (decided by the router's admission, before any
// answer goes out) it copies no content at all: only that an answer went out.
type chatTurn struct {
	call     *router.Call
	answered bool // a response or stream was relayed to the client
	reply    strings.Builder
}

// keep reports whether the turn's content may be kept: the call is not ephemeral.
func (t *chatTurn) keep() bool { return !t.call.Ephemeral }

func (t *chatTurn) add(text string) {
	room := conversations.MaxContentBytes - t.reply.Len()
	if len(text) > room {
		cut := max(room, 0)
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut-- // never split a character: the stored text stays valid UTF-8
		}
		text = text[:cut]
	}
	t.reply.WriteString(text)
}

// surface is the chat endpoint's surface (OpenAI shapes) with hooks that watch the answer go out.
func (t *chatTurn) surface() surface {
	return surface{
		name:     "chat",
		writeErr: openai.WriteError,
		writeRes: func(w http.ResponseWriter, resp *llm.Response) error {
			t.answered = true
			if t.keep() {
				t.add(resp.Text())
			}
			return openai.WriteResponse(w, resp)
		},
		relay: func(w http.ResponseWriter, st llm.Stream, opts openai.Options, heartbeat time.Duration) (llm.Usage, error) {
			if t.keep() {
				st = &textTee{Stream: st, turn: t}
			}
			u, err := openai.RelayHeartbeat(w, st, opts, heartbeat)
			// The relay leaves its last bytes for the handler's return; storing the turn comes
			// first here, so they go out now.
			_ = http.NewResponseController(w).Flush()
			t.answered = true
			return u, err
		},
	}
}

// textTee is an llm.Stream that copies the text deltas it passes on into the turn's reply, so a
// streamed answer can be stored as it was relayed (partly, when the client left early).
type textTee struct {
	llm.Stream
	turn *chatTurn
}

func (s *textTee) Next() (llm.Event, error) {
	ev, err := s.Stream.Next()
	if err == nil && ev.Kind == llm.EventText {
		s.turn.add(ev.Text)
	}
	return ev, err
}

// lastUserText is the text of the request's last user message: the new turn of the conversation
// (earlier messages were stored by earlier turns).
func lastUserText(req *llm.Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == llm.RoleUser {
			return llm.JoinText(req.Messages[i].Content, "\n")
		}
	}
	return ""
}

// serveChat runs a /api/chat/completions call and then keeps what the call's mode allows: in
// ephemeral mode only the session's metadata (tokens, cost, message count, times), else the user's
// last message and the assistant's text reply, sealed, in the call's conversation. A user in
// ephemeral mode without a key of their own for the provider is served with a platform key and
// the turn is stored like any other (policy: ephemeral mode applies with the user's own keys). The route and
// the cost are the ones the call recorded: nothing is resolved or priced twice.
func (s *Server) serveChat(w http.ResponseWriter, r *http.Request, call *router.Call, opts openai.Options) {
	turn := &chatTurn{call: call}
	s.serveCall(w, r, turn.surface(), call, opts)
	if !turn.answered {
		return // nothing went out: the client will retry, and a failed turn is not history
	}
	// The client may be gone; what was answered is still recorded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	s.keepTurn(ctx, call, lastUserText(call.Req), turn.reply.String())
}

// keepTurn keeps one answered turn of a call as its mode allows: in ephemeral mode only the
// session's metadata, else the prompt and the reply, sealed, in the call's conversation (the web
// chat's, and each model's of an MCP get_perspectives). In ephemeral mode the content is not
// looked at (the web chat makes no copy of it at all).
func (s *Server) keepTurn(ctx context.Context, call *router.Call, prompt, reply string) {
	u := call.User
	if call.Ephemeral {
		s.recordEphemeralTurn(ctx, call)
		return
	}
	if reply == "" || prompt == "" || len(prompt) > conversations.MaxContentBytes {
		// Tool-call-only answers, image-only prompts and oversized prompts are not kept as text history.
		return
	}
	// Asked again: a user who turned ephemeral mode on while the answer streamed gets nothing stored.
	// A call on a platform key in ephemeral mode (EphemeralWaived) is stored: its response said so.
	if !call.EphemeralWaived {
		if eph, err := policy.EffectiveEphemeral(ctx, s.store, u); err != nil || eph {
			return
		}
	}
	_, err := s.convs.Append(ctx, u.ID, call.SessionID, conversations.Origin{Provider: call.Route.Provider, Model: call.Route.Model},
		[]conversations.NewMessage{{Role: polydev.MessageUser, Content: prompt}, {Role: polydev.MessageAssistant, Content: reply}})
	if err != nil {
		// ENOTFOUND: the sessionId is another user's conversation; the answer went out, nothing is stored.
		s.log.Warn("conversation not stored", "request_id", requestIDFrom(ctx), "user_id", u.ID, "session_id", call.SessionID,
			"code", polydev.ErrorCode(err), "err", err)
	}
}

// recordEphemeralTurn adds one answered turn (the user's message and the reply) to the session's
// metadata row, with the tokens and cost of the call's usage record. Nothing here may carry
// content: not the row, not the log line.
func (s *Server) recordEphemeralTurn(ctx context.Context, call *router.Call) {
	now := s.now()
	err := s.store.AddEphemeralTurn(ctx, &polydev.EphemeralConversation{
		SessionID: call.SessionID, UserID: call.User.ID, Provider: call.Route.Provider, Model: call.Route.Model,
		TotalTokens: int64(call.Usage.TotalTokens()), TotalCost: call.Cost, MessageCount: 2, CreatedAt: now, LastMessageAt: now,
	})
	if err != nil {
		s.log.Warn("ephemeral session metadata not recorded", "request_id", requestIDFrom(ctx), "user_id", call.User.ID,
			"session_id", call.SessionID, "code", polydev.ErrorCode(err))
	}
}
