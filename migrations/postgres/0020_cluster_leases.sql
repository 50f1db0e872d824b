-- Several instances on one database (CLUSTER=1): each instance registers itself and leases a
-- slice of a key's headroom (quota and daily budget) and of its concurrency slots. A lease
-- whose instance has not sent a heartbeat within the lease timeout no longer counts.
-- Kept in step with migrations/sqlite/0020_cluster_leases.sql (tables only: SQLite runs one
-- instance, so the functions and the trigger are PostgreSQL's).
CREATE TABLE cluster_instances (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

CREATE TABLE cluster_key_leases (
    key_id TEXT NOT NULL,
    instance_id TEXT NOT NULL REFERENCES cluster_instances (id) ON DELETE CASCADE,
    -- Headroom granted to the instance and not yet in api_keys.spent_micros (micro-USD): the
    -- unspent slice plus what it spent and its usage writer has not written yet.
    budget BIGINT NOT NULL DEFAULT 0,
    -- The local day (days since year 1, the instance's time zone) the budget was granted for.
    day INTEGER NOT NULL DEFAULT 0,
    -- Concurrency slots of the key the instance holds.
    slots INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, instance_id)
);

-- The instance's usage writer adds spend to api_keys in the same transaction as the events:
-- the lease shrinks by what was written, so written spend is never counted twice (once in
-- spent_micros, once in the lease). Connections of an instance in cluster mode are named
-- 'tollgate/<instance id>' (application_name); other writers (single instance, CLI) skip.
CREATE FUNCTION tollgate_lease_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    app TEXT := current_setting('application_name', true);
BEGIN
    IF app LIKE 'tollgate/%' THEN
        UPDATE cluster_key_leases
           SET budget = GREATEST(budget - (NEW.spent_micros - OLD.spent_micros), 0)
         WHERE key_id = NEW.id AND instance_id = substr(app, 10);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER api_keys_lease_written AFTER UPDATE OF spent_micros ON api_keys
    FOR EACH ROW WHEN (NEW.spent_micros > OLD.spent_micros)
    EXECUTE FUNCTION tollgate_lease_written();

-- Grants an instance more of a key's headroom: at least p_need when that much is left (else
-- what is left), up to p_want but no more than an even share of half of what is left, so
-- other instances still find some. One decision per key at a time (advisory lock); each
-- statement of the function sees what the previous decision committed.
CREATE FUNCTION tollgate_lease_budget(
    p_key TEXT, p_instance TEXT, p_need BIGINT, p_want BIGINT, p_quota BIGINT,
    p_daily BIGINT, p_day INTEGER, p_day_start BIGINT, p_now BIGINT, p_alive_after BIGINT)
RETURNS TABLE (granted BIGINT, spent BIGINT, day_spent BIGINT, quota_left BIGINT,
               daily_left BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_spent BIGINT;
    v_day_spent BIGINT := 0;
    v_held BIGINT;
    v_day_held BIGINT;
    v_live BIGINT;
    v_quota_left BIGINT;
    v_daily_left BIGINT;
    v_avail BIGINT;
    v_grant BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tollgate.key:' || p_key));
    INSERT INTO cluster_instances (id, started_at, heartbeat_at) VALUES (p_instance, p_now, p_now)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = GREATEST(cluster_instances.heartbeat_at, p_now);
    -- One statement, so one snapshot: spend the usage writer adds to api_keys and takes out
    -- of the leases in one transaction is seen in both places or in neither.
    SELECT k.spent_micros,
           COALESCE((SELECT SUM(l.budget) FROM cluster_key_leases l
                       JOIN cluster_instances i ON i.id = l.instance_id
                      WHERE l.key_id = p_key AND i.heartbeat_at >= p_alive_after), 0),
           COALESCE((SELECT SUM(l.budget) FROM cluster_key_leases l
                       JOIN cluster_instances i ON i.id = l.instance_id
                      WHERE l.key_id = p_key AND l.day = p_day
                        AND i.heartbeat_at >= p_alive_after), 0),
           (SELECT COUNT(*) FROM cluster_instances WHERE heartbeat_at >= p_alive_after),
           CASE WHEN p_daily > 0 THEN
               (SELECT COALESCE(SUM(e.cost_micros), 0) FROM usage_events e
                 WHERE e.key_id = p_key AND e.created_at >= p_day_start)
           ELSE 0 END
      INTO v_spent, v_held, v_day_held, v_live, v_day_spent
      FROM api_keys k WHERE k.id = p_key;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 0::BIGINT, 0::BIGINT, 0::BIGINT, 0::BIGINT, 0::BIGINT;
        RETURN;
    END IF;
    v_quota_left := CASE WHEN p_quota > 0 THEN p_quota - v_spent - v_held END;
    v_daily_left := CASE WHEN p_daily > 0 THEN p_daily - v_day_spent - v_day_held END;
    v_avail := LEAST(COALESCE(v_quota_left, v_daily_left), COALESCE(v_daily_left, v_quota_left));
    v_avail := GREATEST(COALESCE(v_avail, 0), 0);
    v_grant := LEAST(v_avail, GREATEST(p_need, LEAST(p_want, v_avail / (2 * GREATEST(v_live, 1)))));
    INSERT INTO cluster_key_leases (key_id, instance_id, budget, day)
        VALUES (p_key, p_instance, v_grant, p_day)
        ON CONFLICT (key_id, instance_id)
        DO UPDATE SET budget = cluster_key_leases.budget + EXCLUDED.budget, day = EXCLUDED.day;
    RETURN QUERY SELECT v_grant, v_spent, v_day_spent, v_quota_left, v_daily_left;
END $$;

-- Sets the concurrency slots an instance holds for a key to p_held, if the live instances'
-- slots together stay within p_limit (a decrease always succeeds).
CREATE FUNCTION tollgate_hold_slots(
    p_key TEXT, p_instance TEXT, p_held INTEGER, p_limit INTEGER, p_now BIGINT,
    p_alive_after BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    v_others BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tollgate.key:' || p_key));
    INSERT INTO cluster_instances (id, started_at, heartbeat_at) VALUES (p_instance, p_now, p_now)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = GREATEST(cluster_instances.heartbeat_at, p_now);
    SELECT COALESCE(SUM(l.slots), 0) INTO v_others
      FROM cluster_key_leases l JOIN cluster_instances i ON i.id = l.instance_id
     WHERE l.key_id = p_key AND l.instance_id <> p_instance AND i.heartbeat_at >= p_alive_after;
    IF p_limit > 0 AND v_others + p_held > p_limit AND p_held > COALESCE(
        (SELECT slots FROM cluster_key_leases WHERE key_id = p_key AND instance_id = p_instance), 0)
    THEN
        RETURN FALSE;
    END IF;
    INSERT INTO cluster_key_leases (key_id, instance_id, slots) VALUES (p_key, p_instance, p_held)
        ON CONFLICT (key_id, instance_id) DO UPDATE SET slots = EXCLUDED.slots;
    RETURN TRUE;
END $$;
