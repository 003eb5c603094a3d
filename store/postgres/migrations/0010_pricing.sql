-- Money is never unknown by accident (issue 11): a usage record says when its model had no price
-- (served on a user's own key without a budget; cost 0 because nobody knew it), and price rows carry
-- the model's limits (max_tokens is clamped to them before a reservation) and their layer: 'override'
-- (an admin's, PUT /api/admin/pricing) or 'import' (polydev pricing import), which never replaces an
-- override.
ALTER TABLE usage_records ADD COLUMN unpriced BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE model_prices ADD COLUMN max_output_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE model_prices ADD COLUMN context_window BIGINT NOT NULL DEFAULT 0;
ALTER TABLE model_prices ADD COLUMN source TEXT NOT NULL DEFAULT 'override';
