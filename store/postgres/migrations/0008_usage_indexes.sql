-- usage_records_key_created served no query (key counters live on provider_keys), and every usage
-- insert paid for it: one B-tree fewer per record.
DROP INDEX IF EXISTS usage_records_key_created;
