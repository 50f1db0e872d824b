-- Imports from claude-relay-service (CRS): `tollgate import crs` (SQLite flavour; kept in step
-- with migrations/postgres/0009_crs_import.sql).

-- Keys imported from CRS keep working with their old `cr_...` strings. CRS stored
-- sha256_hex(key + its ENCRYPTION_KEY); Tollgate keeps that hash in api_keys.key_hash as
-- 'crs:<hex>' (a namespace its own plain SHA-256 hex can never collide with) and needs the CRS
-- ENCRYPTION_KEY to compute it from a presented key: kept here, encrypted with Tollgate's
-- ENCRYPTION_KEY. `id` is a fingerprint of the salt, so a second import adds no row.
CREATE TABLE legacy_key_salts (
    id TEXT PRIMARY KEY,
    scheme TEXT NOT NULL,
    salt_enc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- What an import brought in: the foreign id → the Tollgate id, and a digest of the values it
-- wrote last, so a second run updates instead of duplicating and leaves unchanged objects (and
-- the edits made in Tollgate since) alone. For keys, the foreign spend and request count last
-- imported: a later run adds only the difference to what Tollgate has counted meanwhile.
CREATE TABLE import_map (
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    foreign_id TEXT NOT NULL,
    local_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    spent_micros BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (source, kind, foreign_id)
);
CREATE INDEX import_map_local ON import_map (local_id);

-- The daily usage an import added to usage_daily (whose triggers keep the narrower rollups),
-- per key, day and model, so a later run adds only the difference.
CREATE TABLE import_usage_daily (
    source TEXT NOT NULL,
    key_id TEXT NOT NULL,
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, key_id, day, model)
);

-- Every import that changed something: who ran it, when, and its report (JSON).
CREATE TABLE import_runs (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    started_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    report TEXT NOT NULL
);
