-- Browser and CLI microVMs: the seed's vms table, and the address leases of tap-mode networking.
-- Timestamps are BIGINT Unix milliseconds (see store/db.go).
CREATE TABLE vms (
	id               TEXT PRIMARY KEY,
	user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	type             TEXT NOT NULL CHECK (type IN ('browser', 'cli')),
	state            TEXT NOT NULL CHECK (state IN ('created', 'starting', 'running', 'stopping', 'stopped', 'failed', 'deleted')),
	ip               TEXT, -- NULL until an address is leased
	driver           TEXT NOT NULL,
	vcpus            BIGINT NOT NULL,
	memory_mib       BIGINT NOT NULL,
	created_at       BIGINT NOT NULL,
	updated_at       BIGINT NOT NULL,
	started_at       BIGINT,
	stopped_at       BIGINT,
	last_activity_at BIGINT NOT NULL
);
CREATE INDEX vms_user_created ON vms (user_id, created_at);

-- One row per leased address (vm/netpool.LeaseStore). UNIQUE(ip) and UNIQUE(vm_id) make a claim
-- atomic across processes with INSERT ... ON CONFLICT DO NOTHING. vm_id has no foreign key: the
-- lease may be reclaimed after its record is gone, and the controller's reconciler, not a cascade,
-- decides when an address is free again.
CREATE TABLE ip_leases (
	ip         TEXT NOT NULL UNIQUE,
	vm_id      TEXT NOT NULL UNIQUE,
	pool       TEXT NOT NULL, -- the pool's subnet in canonical form, e.g. 192.168.100.0/24
	created_at BIGINT NOT NULL
);
CREATE INDEX ip_leases_pool ON ip_leases (pool);
