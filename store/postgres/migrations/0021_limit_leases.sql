-- Capacity a replica leased from a key's limits (store.NewReplica): money and concurrency slots it
-- holds beyond its requests in flight. The row lets the replica's next start, or any replica once
-- the lease expires (its holder stopped renewing it), give the capacity back. Requests of the day
-- and of the minute are leased too, but need no row: they lapse with their period.
CREATE TABLE limit_leases (
	replica_id   TEXT NOT NULL,
	key_id       TEXT NOT NULL,
	money_micros BIGINT NOT NULL,
	slots        BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	PRIMARY KEY (replica_id, key_id)
);
CREATE INDEX limit_leases_expires_at ON limit_leases (expires_at);
