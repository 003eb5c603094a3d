-- The `created` time of the newest invoice.paid applied to a subscription: an invoice.payment_failed
-- older than it (delivered late, or redelivered) must not reopen a grace period the payment closed.
ALTER TABLE subscriptions ADD COLUMN paid_at BIGINT;
