package polydev

import (
	"context"
	"time"
)

// MessageRole says who wrote a stored chat message.
type MessageRole string

const (
	MessageSystem    MessageRole = "system"
	MessageUser      MessageRole = "user"
	MessageAssistant MessageRole = "assistant"
)

// Valid reports whether r is a role a stored message may have.
func (r MessageRole) Valid() bool {
	return r == MessageSystem || r == MessageUser || r == MessageAssistant
}

// Conversation is a stored chat, kept only when the user is not in ephemeral mode. Its id is the
// client's sessionId (a UUID). The title is content, so it is held only sealed: Title is a vault
// envelope sealed for UserID with associated data {conversations, title, ID}.
type Conversation struct {
	ID              string
	UserID          string
	Title           []byte // vault envelope; never serialised
	TitleDEKVersion int
	Provider        Provider // of the latest call; "" when only the UI stored messages
	Model           string   // "provider/model" of the latest call
	MessageCount    int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Message is one stored message of a conversation. Content is a vault envelope sealed for UserID
// with associated data {messages, content, ID}, so a ciphertext moved to another row or user does
// not open. Seq orders a conversation's messages (0, 1, 2, ...) and is assigned by the store.
type Message struct {
	ID             string
	ConversationID string
	UserID         string
	Seq            int64
	Role           MessageRole
	Content        []byte // vault envelope; never serialised
	DEKVersion     int
	CreatedAt      time.Time
}

// EphemeralConversation is all that is kept of a chat in ephemeral mode: metadata, never content.
// As an argument of AddEphemeralTurn its counters are the amounts to add.
type EphemeralConversation struct {
	SessionID     string    `json:"sessionId"`
	UserID        string    `json:"-"`
	Provider      Provider  `json:"provider"`
	Model         string    `json:"model"`
	TotalTokens   int64     `json:"totalTokens"`
	TotalCost     Money     `json:"totalCost"`
	MessageCount  int64     `json:"messageCount"`
	CreatedAt     time.Time `json:"createdAt"`
	LastMessageAt time.Time `json:"lastMessageAt"`
}

// ConversationStore persists conversations and their messages, and the metadata of ephemeral ones.
// Every method is scoped by the owner's user id: another user's conversation behaves exactly like
// one that does not exist (ENOTFOUND), so ids reveal nothing.
type ConversationStore interface {
	// AppendMessages adds msgs (IDs, content and timestamps set) to c.UserID's conversation c.ID in
	// one transaction, creating the conversation from c (title, provider, model, CreatedAt) when it
	// is new. An existing conversation keeps its title; its provider and model change to c's when
	// those are set, and UpdatedAt to c.UpdatedAt. Seq is assigned to each message in order.
	// ENOTFOUND, with nothing written, when the id belongs to another user.
	AppendMessages(ctx context.Context, c *Conversation, msgs []*Message) error
	// ListConversations returns userID's conversations, most recently updated first, at most limit.
	ListConversations(ctx context.Context, userID string, limit int) ([]*Conversation, error)
	// RenameConversation replaces the sealed title of userID's conversation id (and its DEK
	// version); UpdatedAt is left alone, so a rename does not reorder the list. ENOTFOUND when the
	// id is not userID's.
	RenameConversation(ctx context.Context, userID, id string, title []byte, titleDEKVersion int) error
	// ConversationFor returns ENOTFOUND unless conversation id belongs to userID.
	ConversationFor(ctx context.Context, userID, id string) (*Conversation, error)
	// ListMessages returns up to limit of userID's messages in conversation id with Seq > afterSeq,
	// in order (afterSeq -1 starts at the beginning). Another user's conversation yields none.
	ListMessages(ctx context.Context, userID, id string, afterSeq int64, limit int) ([]*Message, error)
	// DeleteConversation removes userID's conversation and its messages; ENOTFOUND otherwise.
	DeleteConversation(ctx context.Context, userID, id string) error

	// AddEphemeralTurn adds t's tokens, cost and message count to the metadata row of session
	// t.SessionID, creating it (CreatedAt) when new; LastMessageAt, provider and model are replaced.
	// ENOTFOUND, with nothing written, when the session id belongs to another user.
	AddEphemeralTurn(ctx context.Context, t *EphemeralConversation) error
	// EphemeralConversationFor returns ENOTFOUND unless the session's metadata belongs to userID.
	EphemeralConversationFor(ctx context.Context, userID, sessionID string) (*EphemeralConversation, error)
}
