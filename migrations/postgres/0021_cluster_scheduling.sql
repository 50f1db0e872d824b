-- Several instances on one database (TOLLGATE_CLUSTER=1): shared sticky sessions, per-account
-- concurrency slots, and change notifications. Kept in step with
-- migrations/sqlite/0021_cluster_scheduling.sql (tables only: SQLite is one instance).

-- A conversation's account, for every instance: written on the first bind and on renewal,
-- read by an instance that has not seen the conversation.
CREATE TABLE sticky_sessions (
    key_id TEXT NOT NULL,
    session BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, session)
);
CREATE INDEX sticky_sessions_expires ON sticky_sessions (expires_at);

-- Slots of an account's maxConcurrency held by one instance, until `expires_at` (database
-- time, epoch ms): the instance renews its rows while it lives; a dead instance's slots come
-- back when they expire.
CREATE TABLE account_slots (
    account_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    held BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, instance_id)
);

-- Takes one slot of an account for an instance if the live holders leave room under
-- `max`: one round trip, serialised per account by a transaction-scoped advisory lock.
-- Returns the slots the instance holds afterwards, or -1 when there was no room.
CREATE FUNCTION tollgate_take_slot(p_account TEXT, p_instance TEXT, p_max BIGINT, p_lease_ms BIGINT)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    now_ms BIGINT := (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT;
    taken BIGINT;
    mine BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tollgate_slots:' || p_account));
    SELECT COALESCE(SUM(held), 0) INTO taken FROM account_slots
        WHERE account_id = p_account AND expires_at > now_ms;
    IF taken >= p_max THEN
        RETURN -1;
    END IF;
    INSERT INTO account_slots (account_id, instance_id, held, expires_at)
        VALUES (p_account, p_instance, 1, now_ms + p_lease_ms)
        ON CONFLICT (account_id, instance_id) DO UPDATE
        SET held = CASE WHEN account_slots.expires_at > now_ms THEN account_slots.held + 1 ELSE 1 END,
            expires_at = now_ms + p_lease_ms
        RETURNING held INTO mine;
    RETURN mine;
END $$;

-- Change notifications on channel `tollgate:<schema>` (deployments sharing a database in
-- separate schemas do not hear each other), sent by triggers so that every writer
-- (the admin service, the CLI, imports, a hand edit) is covered; NOTIFY is transactional
-- (delivered at commit, dropped on rollback). Usage bookkeeping (spent_micros, last_used_at,
-- health) does not move `updated_at` and sends nothing.
CREATE FUNCTION tollgate_notify_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('tollgate:' || current_schema(), 'key:' || OLD.id);
    ELSE
        PERFORM pg_notify('tollgate:' || current_schema(), 'key:' || NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_notify_insert_delete AFTER INSERT OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION tollgate_notify_key();
CREATE TRIGGER api_keys_notify_update AFTER UPDATE ON api_keys
    FOR EACH ROW WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at
        OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
        OR OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION tollgate_notify_key();

CREATE FUNCTION tollgate_notify(topic TEXT) RETURNS void LANGUAGE sql AS $$
    SELECT pg_notify('tollgate:' || current_schema(), topic);
$$;
CREATE FUNCTION tollgate_notify_topic() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate:' || current_schema(), TG_ARGV[0]);
    RETURN NULL;
END $$;
CREATE TRIGGER accounts_notify_insert_delete AFTER INSERT OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_topic('pool');
CREATE TRIGGER accounts_notify_update AFTER UPDATE ON accounts
    FOR EACH ROW WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at)
    EXECUTE FUNCTION tollgate_notify_topic('pool');
CREATE TRIGGER account_groups_notify AFTER INSERT OR UPDATE OR DELETE ON account_groups
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_topic('pool');
CREATE TRIGGER account_group_members_notify AFTER INSERT OR UPDATE OR DELETE ON account_group_members
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_topic('pool');
CREATE TRIGGER pricing_overrides_notify AFTER INSERT OR UPDATE OR DELETE ON pricing_overrides
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_topic('pricing');
CREATE TRIGGER settings_notify AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_topic('settings');
