package store

import (
	"context"
	"database/sql"

	"github.com/polydev/polydev"
)

const conversationColumns = `id, user_id, title, title_dek_version, provider, model, message_count, created_at, updated_at`

func scanConversation(s scanner) (*polydev.Conversation, error) {
	var c polydev.Conversation
	var created, updated int64
	err := s.Scan(&c.ID, &c.UserID, &c.Title, &c.TitleDEKVersion, &c.Provider, &c.Model, &c.MessageCount, &created, &updated)
	if err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return &c, nil
}

// AppendMessages implements polydev.ConversationStore. The counter update takes the conversation's
// row lock (PostgreSQL) or runs under the single writer (SQLite), so concurrent appends to one
// conversation get distinct, gapless sequence numbers.
func (db *DB) AppendMessages(ctx context.Context, c *polydev.Conversation, msgs []*polydev.Message) error {
	if !lookupable(c.UserID, c.ID) {
		return polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := db.txExec(ctx, tx, `INSERT INTO conversations (`+conversationColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING`,
			c.ID, c.UserID, c.Title, c.TitleDEKVersion, c.Provider, c.Model, ms(c.CreatedAt), ms(c.UpdatedAt))
		if err != nil {
			return err
		}
		// Scoped by user: a conversation id of another user changes nothing and reads as not found.
		res, err := db.txExec(ctx, tx, `UPDATE conversations SET message_count = message_count + ?, updated_at = ?,
			provider = COALESCE(NULLIF(?, ''), provider), model = COALESCE(NULLIF(?, ''), model)
			WHERE id = ? AND user_id = ?`,
			len(msgs), ms(c.UpdatedAt), string(c.Provider), c.Model, c.ID, c.UserID)
		if err := affectedOne(res, err, "conversation"); err != nil {
			return err
		}
		var count int64
		if err := db.txQueryRow(ctx, tx, `SELECT message_count FROM conversations WHERE id = ?`, c.ID).Scan(&count); err != nil {
			return err
		}
		c.MessageCount = count
		first := count - int64(len(msgs))
		for i, m := range msgs {
			m.ConversationID, m.UserID, m.Seq = c.ID, c.UserID, first+int64(i)
			_, err := db.txExec(ctx, tx, `INSERT INTO messages (id, conversation_id, user_id, seq, role, content, dek_version, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				m.ID, m.ConversationID, m.UserID, m.Seq, string(m.Role), m.Content, m.DEKVersion, ms(m.CreatedAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// ListConversations implements polydev.ConversationStore.
func (db *DB) ListConversations(ctx context.Context, userID string, limit int) ([]*polydev.Conversation, error) {
	if !lookupable(userID) {
		return []*polydev.Conversation{}, nil
	}
	rows, err := db.query(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE user_id = ?
		ORDER BY updated_at DESC, id DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.Conversation{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ConversationFor implements polydev.ConversationStore.
func (db *DB) ConversationFor(ctx context.Context, userID, id string) (*polydev.Conversation, error) {
	if !lookupable(userID, id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	c, err := scanConversation(db.queryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = ? AND user_id = ?`, id, userID))
	return c, notFound(err, "conversation")
}

// ListMessages implements polydev.ConversationStore.
func (db *DB) ListMessages(ctx context.Context, userID, id string, afterSeq int64, limit int) ([]*polydev.Message, error) {
	if !lookupable(userID, id) {
		return []*polydev.Message{}, nil
	}
	rows, err := db.query(ctx, `SELECT id, conversation_id, user_id, seq, role, content, dek_version, created_at FROM messages
		WHERE conversation_id = ? AND user_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, userID, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.Message{}
	for rows.Next() {
		var m polydev.Message
		var created int64
		if err := rows.Scan(&m.ID, &m.ConversationID, &m.UserID, &m.Seq, &m.Role, &m.Content, &m.DEKVersion, &created); err != nil {
			return nil, err
		}
		m.CreatedAt = fromMS(created)
		out = append(out, &m)
	}
	return out, rows.Err()
}

// DeleteConversation implements polydev.ConversationStore. Messages are deleted explicitly rather
// than left to the foreign key's cascade, so the outcome does not depend on an engine setting.
func (db *DB) DeleteConversation(ctx context.Context, userID, id string) error {
	if !lookupable(userID, id) {
		return polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.txExec(ctx, tx, `DELETE FROM messages WHERE conversation_id = ? AND user_id = ?`, id, userID); err != nil {
			return err
		}
		res, err := db.txExec(ctx, tx, `DELETE FROM conversations WHERE id = ? AND user_id = ?`, id, userID)
		return affectedOne(res, err, "conversation")
	})
}

// RenameConversation implements polydev.ConversationStore.
func (db *DB) RenameConversation(ctx context.Context, userID, id string, title []byte, titleDEKVersion int) error {
	if !lookupable(userID, id) {
		return polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
	}
	res, err := db.exec(ctx, `UPDATE conversations SET title = ?, title_dek_version = ? WHERE id = ? AND user_id = ?`,
		title, titleDEKVersion, id, userID)
	return affectedOne(res, err, "conversation")
}

// AddEphemeralTurn implements polydev.ConversationStore in one statement: the upsert's WHERE makes
// a session id of another user a no-op, reported as not found.
func (db *DB) AddEphemeralTurn(ctx context.Context, t *polydev.EphemeralConversation) error {
	if !lookupable(t.UserID, t.SessionID) {
		return polydev.Errorf(polydev.ENOTFOUND, "session not found")
	}
	res, err := db.exec(ctx, `INSERT INTO ephemeral_conversations (session_id, user_id, provider, model, total_tokens,
		total_cost_micros, message_count, created_at, last_message_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (session_id) DO UPDATE SET
			total_tokens = ephemeral_conversations.total_tokens + excluded.total_tokens,
			total_cost_micros = ephemeral_conversations.total_cost_micros + excluded.total_cost_micros,
			message_count = ephemeral_conversations.message_count + excluded.message_count,
			last_message_at = excluded.last_message_at, provider = excluded.provider, model = excluded.model
		WHERE ephemeral_conversations.user_id = excluded.user_id`,
		t.SessionID, t.UserID, string(t.Provider), t.Model, t.TotalTokens, int64(t.TotalCost), t.MessageCount,
		ms(t.CreatedAt), ms(t.LastMessageAt))
	return affectedOne(res, err, "session")
}

// EphemeralConversationFor implements polydev.ConversationStore.
func (db *DB) EphemeralConversationFor(ctx context.Context, userID, sessionID string) (*polydev.EphemeralConversation, error) {
	if !lookupable(userID, sessionID) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "session not found")
	}
	var e polydev.EphemeralConversation
	var cost, created, last int64
	err := db.queryRow(ctx, `SELECT session_id, user_id, provider, model, total_tokens, total_cost_micros, message_count,
		created_at, last_message_at FROM ephemeral_conversations WHERE session_id = ? AND user_id = ?`, sessionID, userID).
		Scan(&e.SessionID, &e.UserID, &e.Provider, &e.Model, &e.TotalTokens, &cost, &e.MessageCount, &created, &last)
	if err != nil {
		return nil, notFound(err, "session")
	}
	e.TotalCost, e.CreatedAt, e.LastMessageAt = polydev.Money(cost), fromMS(created), fromMS(last)
	return &e, nil
}
