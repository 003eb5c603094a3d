// Package conversations stores chats for users who are not in ephemeral mode: it seals titles and
// message content with the owner's data key before they reach the store (associated data bound to
// table, column, row and user) and opens them for their owner only. It holds no HTTP and no SQL, and
// it must never be called for a user in ephemeral mode (package policy decides that).
package conversations

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vault"
)

// Limits on what is stored.
const (
	MaxContentBytes = 8 << 20 // one message; the gateway accepts bodies of up to 32 MiB, of which one message is a part
	MaxTitleRunes   = 80
	MaxListLimit    = 200
	MaxMessageLimit = 1000
)

// Service is the conversation service.
type Service struct {
	Store polydev.ConversationStore
	Vault *vault.Vault
	Now   func() time.Time
}

// Summary is a conversation as shown to its owner: metadata and the decrypted title.
type Summary struct {
	ID           string           `json:"id"`
	Title        string           `json:"title"`
	Provider     polydev.Provider `json:"provider"`
	Model        string           `json:"model"`
	MessageCount int64            `json:"messageCount"`
	CreatedAt    time.Time        `json:"createdAt"`
	UpdatedAt    time.Time        `json:"updatedAt"`
}

// Message is a message as shown to its owner, decrypted.
type Message struct {
	ID        string              `json:"id"`
	Seq       int64               `json:"seq"`
	Role      polydev.MessageRole `json:"role"`
	Content   string              `json:"content"`
	CreatedAt time.Time           `json:"createdAt"`
}

// NewMessage is a message to store.
type NewMessage struct {
	Role    polydev.MessageRole
	Content string
}

// Origin says which call produced the messages; empty fields leave the conversation's as they are.
type Origin struct {
	Provider polydev.Provider
	Model    string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return polydev.Now()
}

// The associated data binds each ciphertext to its table, column and row; the vault adds the owner.
func titleAAD(id string) vault.AAD {
	return vault.AAD{Table: "conversations", Column: "title", RowID: id}
}

func contentAAD(id string) vault.AAD {
	return vault.AAD{Table: "messages", Column: "content", RowID: id}
}

// Append validates msgs and adds them, sealed, to userID's conversation id, creating it when new
// (titled after its first user message). ENOTFOUND when the id is another user's conversation.
func (s *Service) Append(ctx context.Context, userID, id string, from Origin, msgs []NewMessage) ([]Message, error) {
	if !polydev.ValidID(id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	if len(msgs) == 0 {
		return nil, polydev.Errorf(polydev.EINVALID, "no message to store")
	}
	for _, m := range msgs {
		if err := checkMessage(m); err != nil {
			return nil, err
		}
	}
	now := s.now()
	title := ""
	for _, m := range msgs {
		if m.Role == polydev.MessageUser {
			title = MakeTitle(m.Content)
			break
		}
	}
	// The title is sealed on every append because the store alone knows, inside its transaction,
	// whether the conversation is new; an existing one keeps its title.
	sealedTitle, titleVer, err := s.Vault.Seal(ctx, userID, titleAAD(id), []byte(title))
	if err != nil {
		return nil, err
	}
	c := &polydev.Conversation{ID: id, UserID: userID, Title: sealedTitle, TitleDEKVersion: titleVer,
		Provider: from.Provider, Model: from.Model, CreatedAt: now, UpdatedAt: now}
	rows := make([]*polydev.Message, len(msgs))
	for i, m := range msgs {
		row := &polydev.Message{ID: polydev.NewID(), Role: m.Role, CreatedAt: now}
		row.Content, row.DEKVersion, err = s.Vault.Seal(ctx, userID, contentAAD(row.ID), []byte(m.Content))
		if err != nil {
			return nil, err
		}
		rows[i] = row
	}
	if err := s.Store.AppendMessages(ctx, c, rows); err != nil {
		return nil, err
	}
	out := make([]Message, len(rows))
	for i, r := range rows {
		out[i] = Message{ID: r.ID, Seq: r.Seq, Role: r.Role, Content: msgs[i].Content, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

func checkMessage(m NewMessage) error {
	if !m.Role.Valid() {
		return polydev.Errorf(polydev.EINVALID, "role must be one of user, assistant, system")
	}
	if m.Content == "" {
		return polydev.Errorf(polydev.EINVALID, "content is required")
	}
	if len(m.Content) > MaxContentBytes {
		return polydev.Errorf(polydev.EINVALID, "content is larger than %d bytes", MaxContentBytes)
	}
	if !utf8.ValidString(m.Content) {
		return polydev.Errorf(polydev.EINVALID, "content must be UTF-8 text")
	}
	return nil
}

// Rename gives userID's conversation id a new title (trimmed, one line, at most MaxTitleRunes),
// sealed as at creation. ENOTFOUND when the id is not userID's.
func (s *Service) Rename(ctx context.Context, userID, id, title string) (Summary, error) {
	if !polydev.ValidID(id) {
		return Summary{}, polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	if !utf8.ValidString(title) || strings.ContainsAny(title, "\r\n") {
		return Summary{}, polydev.Errorf(polydev.EINVALID, "title must be one line of text")
	}
	title = MakeTitle(title)
	if title == "" {
		return Summary{}, polydev.Errorf(polydev.EINVALID, "title must not be empty")
	}
	if _, err := s.Store.ConversationFor(ctx, userID, id); err != nil {
		return Summary{}, err
	}
	sealed, ver, err := s.Vault.Seal(ctx, userID, titleAAD(id), []byte(title))
	if err != nil {
		return Summary{}, err
	}
	if err := s.Store.RenameConversation(ctx, userID, id, sealed, ver); err != nil {
		return Summary{}, err
	}
	return s.Get(ctx, userID, id)
}

// MakeTitle is a conversation's title: the first line of its first user message, shortened.
func MakeTitle(content string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(content), "\n")
	line = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(line))
	if utf8.RuneCountInString(line) <= MaxTitleRunes {
		return line
	}
	return string([]rune(line)[:MaxTitleRunes-1]) + "…"
}

// List returns userID's conversations, most recent first, with their titles decrypted.
func (s *Service) List(ctx context.Context, userID string, limit int) ([]Summary, error) {
	cs, err := s.Store.ListConversations(ctx, userID, min(max(limit, 1), MaxListLimit))
	if err != nil {
		return nil, err
	}
	out := make([]Summary, len(cs))
	for i, c := range cs {
		if out[i], err = s.summary(ctx, c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Get returns userID's conversation id; ENOTFOUND for anyone else's.
func (s *Service) Get(ctx context.Context, userID, id string) (Summary, error) {
	if !polydev.ValidID(id) {
		return Summary{}, polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	c, err := s.Store.ConversationFor(ctx, userID, id)
	if err != nil {
		return Summary{}, err
	}
	return s.summary(ctx, c)
}

func (s *Service) summary(ctx context.Context, c *polydev.Conversation) (Summary, error) {
	title, err := s.Vault.Open(ctx, c.UserID, titleAAD(c.ID), c.Title)
	if err != nil {
		return Summary{}, polydev.Wrap(polydev.EINTERNAL, err, "conversation could not be decrypted")
	}
	return Summary{ID: c.ID, Title: string(title), Provider: c.Provider, Model: c.Model, MessageCount: c.MessageCount,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}, nil
}

// Messages returns up to limit of the messages of userID's conversation id after sequence number
// afterSeq (-1 for the first), decrypted; ENOTFOUND when the conversation is not userID's.
func (s *Service) Messages(ctx context.Context, userID, id string, afterSeq int64, limit int) ([]Message, error) {
	if _, err := s.Get(ctx, userID, id); err != nil {
		return nil, err
	}
	rows, err := s.Store.ListMessages(ctx, userID, id, afterSeq, min(max(limit, 1), MaxMessageLimit))
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(rows))
	for i, r := range rows {
		b, err := s.Vault.Open(ctx, r.UserID, contentAAD(r.ID), r.Content)
		if err != nil {
			return nil, polydev.Wrap(polydev.EINTERNAL, err, "message could not be decrypted")
		}
		out[i] = Message{ID: r.ID, Seq: r.Seq, Role: r.Role, Content: string(b), CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// Delete removes userID's conversation id and its messages; ENOTFOUND for anyone else's.
func (s *Service) Delete(ctx context.Context, userID, id string) error {
	if !polydev.ValidID(id) {
		return polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	return s.Store.DeleteConversation(ctx, userID, id)
}
