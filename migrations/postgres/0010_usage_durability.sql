-- Usage counted once and a writer that cannot be jammed (PostgreSQL flavour; kept in step with
-- migrations/sqlite/0010_usage_durability.sql).

-- A usage event is written at most once: the writer inserts with ON CONFLICT DO NOTHING and
-- adds to spend and rollups only what it inserted, so replaying the spool (or a batch whose
-- commit was not seen) counts nothing twice. Relay request ids are UUIDv7 and imports filter
-- their own duplicates; should an older database hold a duplicate anyway, the later copies are
-- renamed (`<id>#<row>`) rather than deleted, so the index can be built and no money moves.
UPDATE usage_events SET request_id = request_id || '#' || id
WHERE id NOT IN (SELECT MIN(id) FROM usage_events GROUP BY key_id, request_id);
CREATE UNIQUE INDEX usage_events_request ON usage_events (key_id, request_id);

-- Events the database refused as given (a batch that failed was split until the offending row
-- was alone). `event` is the event as JSON text (control characters escaped, long strings
-- capped), `error` the database's refusal; `billed` tells whether a sanitised copy (model and
-- error text stripped of control characters and capped) was recorded in usage_events instead.
CREATE TABLE usage_dead_letters (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    event TEXT NOT NULL,
    error TEXT NOT NULL,
    billed BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX usage_dead_letters_request ON usage_dead_letters (key_id, request_id);
CREATE INDEX usage_dead_letters_created ON usage_dead_letters (created_at);
