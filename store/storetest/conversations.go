package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func testUserSettings(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPro)
	got, err := s.UserSettings(ctx(t), u.ID)
	must(t, err)
	if got.UserID != u.ID || got.EphemeralMode != nil || got.ClientSideStorage || got.StrictEphemeral {
		t.Fatalf("settings of a new user = %+v, want tier defaults", got)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, want := range []*polydev.UserSettings{
		{UserID: u.ID, EphemeralMode: ptr(false), ClientSideStorage: true, UpdatedAt: now},
		{UserID: u.ID, EphemeralMode: ptr(true), ClientSideStorage: false, StrictEphemeral: true, UpdatedAt: now.Add(time.Second)},
		{UserID: u.ID, EphemeralMode: nil, ClientSideStorage: true, UpdatedAt: now.Add(2 * time.Second)}, // back to the default
	} {
		must(t, s.PutUserSettings(ctx(t), want))
		got, err := s.UserSettings(ctx(t), u.ID)
		must(t, err)
		if (got.EphemeralMode == nil) != (want.EphemeralMode == nil) || got.EphemeralMode != nil && *got.EphemeralMode != *want.EphemeralMode ||
			got.ClientSideStorage != want.ClientSideStorage || got.StrictEphemeral != want.StrictEphemeral || !got.UpdatedAt.Equal(want.UpdatedAt) {
			t.Fatalf("settings = %+v, want %+v", got, want)
		}
	}
	other := newUser(t, s, polydev.TierPro)
	if got, _ := s.UserSettings(ctx(t), other.ID); got.EphemeralMode != nil || got.ClientSideStorage {
		t.Fatalf("another user's settings leaked: %+v", got)
	}
	if got, err := s.UserSettings(ctx(t), "' OR 1=1 --\x00"); err != nil || got.EphemeralMode != nil {
		t.Fatalf("hostile id = %+v, %v", got, err)
	}
}

// newConversation returns a conversation value for owner with a binary "sealed" title.
func newConversation(owner string, at time.Time) *polydev.Conversation {
	return &polydev.Conversation{ID: polydev.NewID(), UserID: owner, Title: binarySecret(9), TitleDEKVersion: 1,
		Provider: polydev.ProviderOpenAI, Model: "openai/gpt-4o-mini", CreatedAt: at, UpdatedAt: at}
}

func newMessages(at time.Time, roles ...polydev.MessageRole) []*polydev.Message {
	out := make([]*polydev.Message, len(roles))
	for i, r := range roles {
		out[i] = &polydev.Message{ID: polydev.NewID(), Role: r, Content: binarySecret(byte(i)), DEKVersion: 1, CreatedAt: at}
	}
	return out
}

func testConversations(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := newConversation(u.ID, now)
	first := newMessages(now, polydev.MessageSystem, polydev.MessageUser, polydev.MessageAssistant)
	must(t, s.AppendMessages(ctx(t), c, first))
	if c.MessageCount != 3 || first[0].Seq != 0 || first[2].Seq != 2 || first[1].ConversationID != c.ID || first[1].UserID != u.ID {
		t.Fatalf("after first append: count %d, seqs %d %d", c.MessageCount, first[0].Seq, first[2].Seq)
	}

	// A second append keeps the title and creation time, moves provider/model and updated_at.
	again := *c
	again.Title, again.Provider, again.Model = []byte("other title"), polydev.ProviderAnthropic, "anthropic/claude-sonnet-4-5"
	again.CreatedAt, again.UpdatedAt = now.Add(time.Hour), now.Add(time.Minute)
	second := newMessages(now.Add(time.Minute), polydev.MessageUser, polydev.MessageAssistant)
	must(t, s.AppendMessages(ctx(t), &again, second))
	if second[0].Seq != 3 || second[1].Seq != 4 {
		t.Fatalf("second append seqs = %d, %d", second[0].Seq, second[1].Seq)
	}
	got, err := s.ConversationFor(ctx(t), u.ID, c.ID)
	must(t, err)
	if !bytes.Equal(got.Title, c.Title) || got.TitleDEKVersion != 1 || !got.CreatedAt.Equal(now) || !got.UpdatedAt.Equal(now.Add(time.Minute)) ||
		got.Provider != polydev.ProviderAnthropic || got.Model != "anthropic/claude-sonnet-4-5" || got.MessageCount != 5 || got.UserID != u.ID {
		t.Fatalf("conversation = %+v", got)
	}
	// Empty provider/model (the UI storing a message) leave them as they were.
	keep := *c
	keep.Provider, keep.Model, keep.UpdatedAt = "", "", now.Add(2*time.Minute)
	must(t, s.AppendMessages(ctx(t), &keep, newMessages(now, polydev.MessageUser)))
	if got, _ := s.ConversationFor(ctx(t), u.ID, c.ID); got.Provider != polydev.ProviderAnthropic || got.MessageCount != 6 {
		t.Fatalf("after a UI append = %+v", got)
	}

	msgs, err := s.ListMessages(ctx(t), u.ID, c.ID, -1, 100)
	must(t, err)
	if len(msgs) != 6 {
		t.Fatalf("ListMessages = %d messages", len(msgs))
	}
	for i, m := range msgs {
		if m.Seq != int64(i) || m.ConversationID != c.ID || m.UserID != u.ID {
			t.Fatalf("message %d = %+v", i, m)
		}
	}
	if m := msgs[1]; m.ID != first[1].ID || m.Role != polydev.MessageUser || !bytes.Equal(m.Content, first[1].Content) ||
		m.DEKVersion != 1 || !m.CreatedAt.Equal(now) {
		t.Fatalf("message round trip = %+v, want %+v", m, first[1])
	}
	page, err := s.ListMessages(ctx(t), u.ID, c.ID, 2, 2)
	must(t, err)
	if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Fatalf("page after seq 2 = %+v", page)
	}

	// Newest first.
	older := newConversation(u.ID, now.Add(-time.Hour))
	must(t, s.AppendMessages(ctx(t), older, newMessages(now, polydev.MessageUser)))
	list, err := s.ListConversations(ctx(t), u.ID, 10)
	must(t, err)
	if len(list) != 2 || list[0].ID != c.ID || list[1].ID != older.ID {
		t.Fatalf("ListConversations = %+v", list)
	}
	if l, _ := s.ListConversations(ctx(t), u.ID, 1); len(l) != 1 {
		t.Fatalf("limit 1 gave %d", len(l))
	}

	// A rename replaces the sealed title only: the list order (UpdatedAt) stays.
	must(t, s.RenameConversation(ctx(t), u.ID, c.ID, []byte("renamed title"), 2))
	renamed, err := s.ConversationFor(ctx(t), u.ID, c.ID)
	must(t, err)
	if string(renamed.Title) != "renamed title" || renamed.TitleDEKVersion != 2 || !renamed.UpdatedAt.Equal(list[0].UpdatedAt) {
		t.Fatalf("after rename = %+v", renamed)
	}
	mustCode(t, s.RenameConversation(ctx(t), u.ID, polydev.NewID(), []byte("x"), 1), polydev.ENOTFOUND)

	must(t, s.DeleteConversation(ctx(t), u.ID, c.ID))
	_, err = s.ConversationFor(ctx(t), u.ID, c.ID)
	mustCode(t, err, polydev.ENOTFOUND)
	if m, _ := s.ListMessages(ctx(t), u.ID, c.ID, -1, 100); len(m) != 0 {
		t.Fatalf("messages survive their conversation: %d", len(m))
	}
	mustCode(t, s.DeleteConversation(ctx(t), u.ID, c.ID), polydev.ENOTFOUND)
}

// testConversationIsolation: another user can neither read, list, append to nor delete a
// conversation, and a failed append writes nothing.
func testConversationIsolation(t *testing.T, s polydev.Store) {
	owner, other := newUser(t, s, polydev.TierPlus), newUser(t, s, polydev.TierPlus)
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := newConversation(owner.ID, now)
	must(t, s.AppendMessages(ctx(t), c, newMessages(now, polydev.MessageUser)))

	_, err := s.ConversationFor(ctx(t), other.ID, c.ID)
	mustCode(t, err, polydev.ENOTFOUND)
	if l, _ := s.ListConversations(ctx(t), other.ID, 10); len(l) != 0 {
		t.Fatal("another user lists the conversation")
	}
	if m, _ := s.ListMessages(ctx(t), other.ID, c.ID, -1, 10); len(m) != 0 {
		t.Fatal("another user reads the messages")
	}
	hijack := newConversation(other.ID, now)
	hijack.ID = c.ID
	mustCode(t, s.AppendMessages(ctx(t), hijack, newMessages(now, polydev.MessageUser)), polydev.ENOTFOUND)
	mustCode(t, s.DeleteConversation(ctx(t), other.ID, c.ID), polydev.ENOTFOUND)
	mustCode(t, s.RenameConversation(ctx(t), other.ID, c.ID, []byte("hijacked"), 1), polydev.ENOTFOUND)
	got, err := s.ConversationFor(ctx(t), owner.ID, c.ID)
	must(t, err)
	if got.MessageCount != 1 || got.UserID != owner.ID {
		t.Fatalf("after another user's attempts = %+v", got)
	}
	if m, _ := s.ListMessages(ctx(t), owner.ID, c.ID, -1, 10); len(m) != 1 {
		t.Fatalf("owner has %d messages, want 1", len(m))
	}

	for _, p := range []string{"' OR '1'='1", c.ID + "' OR 1=1 --", "%", "\x00", "\xff"} {
		_, err := s.ConversationFor(ctx(t), owner.ID, p)
		mustCode(t, err, polydev.ENOTFOUND)
		mustCode(t, s.DeleteConversation(ctx(t), owner.ID, p), polydev.ENOTFOUND)
		if m, err := s.ListMessages(ctx(t), owner.ID, p, -1, 10); err != nil || len(m) != 0 {
			t.Fatalf("ListMessages(%q) = %d, %v", p, len(m), err)
		}
	}
}

// testConversationConcurrentAppend: parallel appends to one conversation get distinct, gapless seqs.
func testConversationConcurrentAppend(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := polydev.NewID()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			c := newConversation(u.ID, now)
			c.ID = id
			errs <- s.AppendMessages(ctx(t), c, newMessages(now, polydev.MessageUser, polydev.MessageAssistant))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	msgs, err := s.ListMessages(ctx(t), u.ID, id, -1, 100)
	must(t, err)
	if len(msgs) != 2*n {
		t.Fatalf("%d messages, want %d", len(msgs), 2*n)
	}
	for i, m := range msgs {
		if m.Seq != int64(i) {
			t.Fatalf("seq %d at position %d", m.Seq, i)
		}
	}
}

func testEphemeralConversations(t *testing.T, s polydev.Store) {
	u, other := newUser(t, s, polydev.TierPro), newUser(t, s, polydev.TierPro)
	now := time.Now().UTC().Truncate(time.Millisecond)
	sid := polydev.NewID()
	turn := func(at time.Time, tokens int64, cost polydev.Money, model string) *polydev.EphemeralConversation {
		return &polydev.EphemeralConversation{SessionID: sid, UserID: u.ID, Provider: polydev.ProviderOpenAI, Model: model,
			TotalTokens: tokens, TotalCost: cost, MessageCount: 2, CreatedAt: at, LastMessageAt: at}
	}
	must(t, s.AddEphemeralTurn(ctx(t), turn(now, 100, 250, "openai/gpt-4o-mini")))
	must(t, s.AddEphemeralTurn(ctx(t), turn(now.Add(time.Minute), 40, 50, "openai/gpt-4o")))
	got, err := s.EphemeralConversationFor(ctx(t), u.ID, sid)
	must(t, err)
	want := polydev.EphemeralConversation{SessionID: sid, UserID: u.ID, Provider: polydev.ProviderOpenAI, Model: "openai/gpt-4o",
		TotalTokens: 140, TotalCost: 300, MessageCount: 4, CreatedAt: now, LastMessageAt: now.Add(time.Minute)}
	if *got != want {
		t.Fatalf("ephemeral row = %+v, want %+v", got, want)
	}

	hijack := turn(now, 1, 1, "openai/gpt-4o")
	hijack.UserID = other.ID
	mustCode(t, s.AddEphemeralTurn(ctx(t), hijack), polydev.ENOTFOUND)
	_, err = s.EphemeralConversationFor(ctx(t), other.ID, sid)
	mustCode(t, err, polydev.ENOTFOUND)
	if got, _ := s.EphemeralConversationFor(ctx(t), u.ID, sid); *got != want {
		t.Fatalf("another user's turn changed the row: %+v", got)
	}
	_, err = s.EphemeralConversationFor(ctx(t), u.ID, "' OR 1=1 --")
	mustCode(t, err, polydev.ENOTFOUND)
}
