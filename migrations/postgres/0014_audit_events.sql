-- The audit trail (kept in step with the other database's 0014_audit_events.sql): one row per
-- change made by staff, written in the same transaction as the change. Never holds a secret:
-- credentials, keys and passwords appear as "changed" in summary.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    client_addr TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT '',
    target_id TEXT NOT NULL DEFAULT '',
    target_name TEXT NOT NULL DEFAULT '',
    -- JSON object: field -> [before, after], or free notes.
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_created_at ON audit_events (created_at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, created_at);
CREATE INDEX audit_events_target ON audit_events (target_type, target_id);
