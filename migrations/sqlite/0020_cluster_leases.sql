-- The tables of several instances on one database (CLUSTER=1). Only PostgreSQL runs several
-- instances (its migration adds the lease functions and the trigger); SQLite keeps the tables
-- so both schemas stay alike. Kept in step with migrations/postgres/0020_cluster_leases.sql.
CREATE TABLE cluster_instances (
    id TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

CREATE TABLE cluster_key_leases (
    key_id TEXT NOT NULL,
    instance_id TEXT NOT NULL REFERENCES cluster_instances (id) ON DELETE CASCADE,
    budget INTEGER NOT NULL DEFAULT 0,
    day INTEGER NOT NULL DEFAULT 0,
    slots INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, instance_id)
);
