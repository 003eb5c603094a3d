-- Admin overrides of the embedded model price table; amounts are micro-dollars per million tokens.
CREATE TABLE model_prices (
	model                     TEXT PRIMARY KEY,
	input_per_mtok_micros     BIGINT NOT NULL,
	output_per_mtok_micros    BIGINT NOT NULL,
	cached_input_per_mtok_micros BIGINT NOT NULL,
	cache_write_per_mtok_micros  BIGINT NOT NULL,
	updated_at                BIGINT NOT NULL
);
