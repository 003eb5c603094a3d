package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/polydev/polydev"
)

const providerKeyColumns = `id, user_id, provider, name, secret, dek_version, preview, base_url, monthly_budget_micros,
	daily_limit, rate_limit_rpm, priority, active, usage_month, month_spend_micros, usage_day, day_requests,
	total_requests, input_tokens, output_tokens, total_spend_micros, last_used_at, created_at, updated_at, concurrency_limit`

// ownerClause scopes a query to an owner: a user id, or "" for platform keys (user_id IS NULL).
const ownerClause = `COALESCE(user_id, '') = ?`

func scanProviderKey(s scanner) (*polydev.ProviderKey, error) {
	var k polydev.ProviderKey
	var user sql.NullString
	var budget, daily, rpm, conc, lastUsed sql.NullInt64
	var spend, total int64
	var created, updated int64
	err := s.Scan(&k.ID, &user, &k.Provider, &k.Name, &k.Secret, &k.DEKVersion, &k.Preview, &k.BaseURL, &budget,
		&daily, &rpm, &k.Priority, &k.Active, &k.Usage.Month, &spend, &k.Usage.Day, &k.Usage.DayRequests,
		&k.Usage.TotalRequests, &k.Usage.InputTokens, &k.Usage.OutputTokens, &total, &lastUsed, &created, &updated, &conc)
	if err != nil {
		return nil, err
	}
	k.UserID = user.String
	if budget.Valid {
		m := polydev.Money(budget.Int64)
		k.MonthlyBudget = &m
	}
	if daily.Valid {
		k.DailyLimit = &daily.Int64
	}
	if rpm.Valid {
		k.RateLimitRPM = &rpm.Int64
	}
	if conc.Valid {
		k.MaxConcurrent = &conc.Int64
	}
	k.Usage.MonthSpend, k.Usage.TotalSpend = polydev.Money(spend), polydev.Money(total)
	k.Usage.LastUsedAt = fromNullMS(lastUsed)
	k.CreatedAt, k.UpdatedAt = fromMS(created), fromMS(updated)
	return &k, nil
}

func nullOwner(userID string) sql.NullString {
	return sql.NullString{String: userID, Valid: userID != ""}
}

func nullMoney(m *polydev.Money) sql.NullInt64 {
	if m == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*m), Valid: true}
}

// CreateProviderKey implements polydev.ProviderKeyStore.
func (db *DB) CreateProviderKey(ctx context.Context, k *polydev.ProviderKey) error {
	_, err := db.exec(ctx, `INSERT INTO provider_keys (`+providerKeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, nullOwner(k.UserID), k.Provider, k.Name, k.Secret, k.DEKVersion, k.Preview, k.BaseURL, nullMoney(k.MonthlyBudget),
		nullInt(k.DailyLimit), nullInt(k.RateLimitRPM), k.Priority, k.Active, k.Usage.Month, int64(k.Usage.MonthSpend),
		k.Usage.Day, k.Usage.DayRequests, k.Usage.TotalRequests, k.Usage.InputTokens, k.Usage.OutputTokens,
		int64(k.Usage.TotalSpend), msPtr(k.Usage.LastUsedAt), ms(k.CreatedAt), ms(k.UpdatedAt), nullInt(k.MaxConcurrent))
	return err
}

// ProviderKeyFor implements polydev.ProviderKeyStore.
func (db *DB) ProviderKeyFor(ctx context.Context, owner, id string) (*polydev.ProviderKey, error) {
	if !lookupable(owner, id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "key not found")
	}
	k, err := scanProviderKey(db.queryRow(ctx, `SELECT `+providerKeyColumns+` FROM provider_keys WHERE id = ? AND `+ownerClause, id, owner))
	return k, notFound(err, "key")
}

// ListProviderKeys implements polydev.ProviderKeyStore.
func (db *DB) ListProviderKeys(ctx context.Context, owner string) ([]*polydev.ProviderKey, error) {
	if !lookupable(owner) {
		return []*polydev.ProviderKey{}, nil
	}
	rows, err := db.query(ctx, `SELECT `+providerKeyColumns+` FROM provider_keys WHERE `+ownerClause+`
		ORDER BY provider, priority, created_at, id`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.ProviderKey{}
	for rows.Next() {
		k, err := scanProviderKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// UpdateProviderKey implements polydev.ProviderKeyStore.
func (db *DB) UpdateProviderKey(ctx context.Context, k *polydev.ProviderKey) error {
	if !lookupable(k.UserID, k.ID) {
		return polydev.Errorf(polydev.ENOTFOUND, "key not found")
	}
	res, err := db.exec(ctx, `UPDATE provider_keys SET name = ?, secret = ?, dek_version = ?, preview = ?, base_url = ?,
		monthly_budget_micros = ?, daily_limit = ?, rate_limit_rpm = ?, concurrency_limit = ?, priority = ?, active = ?, updated_at = ?
		WHERE id = ? AND `+ownerClause,
		k.Name, k.Secret, k.DEKVersion, k.Preview, k.BaseURL, nullMoney(k.MonthlyBudget), nullInt(k.DailyLimit),
		nullInt(k.RateLimitRPM), nullInt(k.MaxConcurrent), k.Priority, k.Active, ms(k.UpdatedAt), k.ID, k.UserID)
	return affectedOne(res, err, "key")
}

// DeleteProviderKey implements polydev.ProviderKeyStore.
func (db *DB) DeleteProviderKey(ctx context.Context, owner, id string) error {
	if !lookupable(owner, id) {
		return polydev.Errorf(polydev.ENOTFOUND, "key not found")
	}
	res, err := db.exec(ctx, `DELETE FROM provider_keys WHERE id = ? AND `+ownerClause, id, owner)
	return affectedOne(res, err, "key")
}

// ResetProviderKeyUsage implements polydev.ProviderKeyStore.
func (db *DB) ResetProviderKeyUsage(ctx context.Context, owner, id string, at time.Time) error {
	if !lookupable(owner, id) {
		return polydev.Errorf(polydev.ENOTFOUND, "key not found")
	}
	res, err := db.exec(ctx, `UPDATE provider_keys SET usage_month = '', month_spend_micros = 0, usage_day = '',
		day_requests = 0, updated_at = ? WHERE id = ? AND `+ownerClause, ms(at), id, owner)
	return affectedOne(res, err, "key")
}

// ReorderProviderKeys implements polydev.ProviderKeyStore.
func (db *DB) ReorderProviderKeys(ctx context.Context, owner string, ids []string, at time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for i, id := range ids {
			if !lookupable(owner, id) {
				return polydev.Errorf(polydev.ENOTFOUND, "key %d of the order not found", i+1)
			}
			res, err := db.txExec(ctx, tx, `UPDATE provider_keys SET priority = ?, updated_at = ? WHERE id = ? AND `+ownerClause,
				i, ms(at), id, owner)
			if err := affectedOne(res, err, "key"); err != nil {
				if polydev.ErrorCode(err) != polydev.ENOTFOUND {
					return err // a database failure, not a foreign or unknown key
				}
				return polydev.Errorf(polydev.ENOTFOUND, "key %d of the order not found", i+1)
			}
		}
		return nil
	})
}
