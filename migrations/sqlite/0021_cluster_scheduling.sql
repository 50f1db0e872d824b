-- Kept in step with migrations/postgres/0021_cluster_scheduling.sql: the tables only. Several
-- instances need PostgreSQL (notifications, advisory locks); on SQLite these stay empty.
CREATE TABLE sticky_sessions (
    key_id TEXT NOT NULL,
    session BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, session)
);
CREATE INDEX sticky_sessions_expires ON sticky_sessions (expires_at);

CREATE TABLE account_slots (
    account_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    held BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, instance_id)
);
