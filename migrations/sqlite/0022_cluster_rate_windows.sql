-- Kept in step with migrations/postgres/0022_cluster_rate_windows.sql: the tables only. Several
-- instances need PostgreSQL; on SQLite these stay empty.
CREATE TABLE cluster_rate_hits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX cluster_rate_hits_key ON cluster_rate_hits (key_id, at);
CREATE INDEX cluster_rate_hits_expires ON cluster_rate_hits (expires_at);

CREATE TABLE cluster_key_events (
    key_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    mark BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, kind, mark)
);
