package conversations_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/vault"
)

func newService(t *testing.T) (*conversations.Service, polydev.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "polydev.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := vault.NewKeyring(map[int][]byte{1: bytes.Repeat([]byte{3}, vault.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	return &conversations.Service{Store: st, Vault: vault.NewVault(kr, st, "")}, st
}

func newUser(t *testing.T, st polydev.Store) string {
	t.Helper()
	now := time.Now().UTC()
	u := &polydev.User{ID: polydev.NewID(), Email: polydev.NewID()[:8] + "@example.com", PasswordHash: "x", Role: polydev.RoleUser,
		Tier: polydev.TierPlus, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestSealedAtRest: what the store holds is not the plaintext, and the owner reads it back.
func TestSealedAtRest(t *testing.T) {
	t.Parallel()
	svc, st := newService(t)
	user, id := newUser(t, st), polydev.NewID()
	_, err := svc.Append(t.Context(), user, id, conversations.Origin{Provider: polydev.ProviderOpenAI, Model: "openai/gpt-4o-mini"},
		[]conversations.NewMessage{{Role: polydev.MessageUser, Content: "secret question\nmore"}, {Role: polydev.MessageAssistant, Content: "secret answer"}})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := st.ListMessages(t.Context(), user, id, -1, 10)
	c, _ := st.ConversationFor(t.Context(), user, id)
	for _, b := range [][]byte{rows[0].Content, rows[1].Content, c.Title} {
		if bytes.Contains(b, []byte("secret")) {
			t.Fatal("plaintext in the store")
		}
	}
	sum, err := svc.Get(t.Context(), user, id)
	if err != nil || sum.Title != "secret question" || sum.MessageCount != 2 {
		t.Fatalf("Get = %+v, %v", sum, err)
	}
	msgs, err := svc.Messages(t.Context(), user, id, -1, 10)
	if err != nil || len(msgs) != 2 || msgs[1].Content != "secret answer" || msgs[1].Role != polydev.MessageAssistant {
		t.Fatalf("Messages = %+v, %v", msgs, err)
	}
}

// TestCiphertextBoundToRowAndOwner: a ciphertext copied into another message row, or into another
// user's conversation, does not open.
func TestCiphertextBoundToRowAndOwner(t *testing.T) {
	t.Parallel()
	svc, st := newService(t)
	owner, other := newUser(t, st), newUser(t, st)
	id := polydev.NewID()
	if _, err := svc.Append(t.Context(), owner, id, conversations.Origin{}, []conversations.NewMessage{{Role: polydev.MessageUser, Content: "mine"}}); err != nil {
		t.Fatal(err)
	}
	rows, _ := st.ListMessages(t.Context(), owner, id, -1, 10)
	conv, _ := st.ConversationFor(t.Context(), owner, id)
	now := time.Now().UTC()

	// The same envelope under a new row id of the same owner and conversation.
	moved := &polydev.Message{ID: polydev.NewID(), Role: polydev.MessageUser, Content: rows[0].Content, DEKVersion: rows[0].DEKVersion, CreatedAt: now}
	if err := st.AppendMessages(t.Context(), &polydev.Conversation{ID: id, UserID: owner, Title: conv.Title, CreatedAt: now, UpdatedAt: now}, []*polydev.Message{moved}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Messages(t.Context(), owner, id, -1, 10); polydev.ErrorCode(err) != polydev.EINTERNAL {
		t.Fatalf("a moved ciphertext opened: %v", err)
	}

	// The owner's title and message under another user's conversation.
	theirs := polydev.NewID()
	err := st.AppendMessages(t.Context(), &polydev.Conversation{ID: theirs, UserID: other, Title: conv.Title, TitleDEKVersion: 1, CreatedAt: now, UpdatedAt: now},
		[]*polydev.Message{{ID: rows[0].ID + "x", Role: polydev.MessageUser, Content: rows[0].Content, DEKVersion: 1, CreatedAt: now}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(t.Context(), other, theirs); polydev.ErrorCode(err) != polydev.EINTERNAL {
		t.Fatalf("another user's title opened: %v", err)
	}

	// And the service refuses ids that are not UUIDs before reaching the store.
	if _, err := svc.Get(t.Context(), owner, "not-a-uuid"); polydev.ErrorCode(err) != polydev.ENOTFOUND {
		t.Fatalf("Get(bad id) = %v", err)
	}
	if _, err := svc.Append(t.Context(), owner, id, conversations.Origin{}, []conversations.NewMessage{{Role: "tool", Content: "x"}}); polydev.ErrorCode(err) != polydev.EINVALID {
		t.Fatalf("Append(role tool) = %v", err)
	}
}
