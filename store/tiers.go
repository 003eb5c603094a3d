package store

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/polydev/polydev"
)

const tierColumns = `tier, requests_per_day, requests_per_minute, allowed_models, byok, ephemeral, platform_keys, max_vms, updated_at`

func scanTier(s scanner) (*polydev.TierLimits, error) {
	var l polydev.TierLimits
	var rpd, rpm sql.NullInt64
	var models string
	var updated int64
	if err := s.Scan(&l.Tier, &rpd, &rpm, &models, &l.BYOK, &l.Ephemeral, &l.PlatformKeys, &l.MaxVMs, &updated); err != nil {
		return nil, err
	}
	if rpd.Valid {
		l.RequestsPerDay = &rpd.Int64
	}
	if rpm.Valid {
		l.RequestsPerMinute = &rpm.Int64
	}
	l.AllowedModels = []string{}
	if err := json.Unmarshal([]byte(models), &l.AllowedModels); err != nil {
		return nil, err
	}
	l.UpdatedAt = fromMS(updated)
	return &l, nil
}

// tierOrder sorts rows from free to enterprise without relying on collation.
const tierOrder = `CASE tier WHEN 'free' THEN 0 WHEN 'plus' THEN 1 WHEN 'pro' THEN 2 ELSE 3 END`

// ListTierLimits implements polydev.TierStore.
func (db *DB) ListTierLimits(ctx context.Context) ([]*polydev.TierLimits, error) {
	rows, err := db.query(ctx, `SELECT `+tierColumns+` FROM tier_limits ORDER BY `+tierOrder)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*polydev.TierLimits
	for rows.Next() {
		l, err := scanTier(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// TierLimitsFor implements polydev.TierStore.
func (db *DB) TierLimitsFor(ctx context.Context, t polydev.Tier) (*polydev.TierLimits, error) {
	l, err := scanTier(db.queryRow(ctx, `SELECT `+tierColumns+` FROM tier_limits WHERE tier = ?`, t))
	return l, notFound(err, "tier")
}

// PutTierLimits implements polydev.TierStore.
func (db *DB) PutTierLimits(ctx context.Context, rows []*polydev.TierLimits) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, l := range rows {
			models := l.AllowedModels
			if models == nil {
				models = []string{}
			}
			mj, err := json.Marshal(models)
			if err != nil {
				return err
			}
			_, err = db.txExec(ctx, tx, `INSERT INTO tier_limits (`+tierColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (tier) DO UPDATE SET requests_per_day = excluded.requests_per_day,
				requests_per_minute = excluded.requests_per_minute, allowed_models = excluded.allowed_models,
				byok = excluded.byok, ephemeral = excluded.ephemeral, platform_keys = excluded.platform_keys,
				max_vms = excluded.max_vms, updated_at = excluded.updated_at`,
				l.Tier, nullInt(l.RequestsPerDay), nullInt(l.RequestsPerMinute), string(mj), l.BYOK, l.Ephemeral,
				l.PlatformKeys, l.MaxVMs, ms(l.UpdatedAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func nullInt(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}
