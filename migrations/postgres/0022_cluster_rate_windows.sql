-- Several instances on one database (CLUSTER=1), continued: keys' rate windows shared by all
-- instances, and key threshold events (quota warning, quota used up) sent once per crossing.
-- Kept in step with migrations/sqlite/0022_cluster_rate_windows.sql (tables only).

-- The requests a key's rate window admitted, over all instances: one row per request, removed
-- once it is older than the window (or taken back when the request got no concurrency slot).
-- Times are the database's clock (epoch ms), so the instances' clocks do not matter.
CREATE TABLE cluster_rate_hits (
    id BIGSERIAL PRIMARY KEY,
    key_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX cluster_rate_hits_key ON cluster_rate_hits (key_id, at);
CREATE INDEX cluster_rate_hits_expires ON cluster_rate_hits (expires_at);

-- Admits one request to a key's window of p_window ms holding at most p_limit requests, over
-- all instances (one decision per key at a time: advisory lock). Answers the new row's id
-- (NULL: refused), the requests in the window with it, and the ms until room frees (refused)
-- or until the oldest request ages out (admitted).
CREATE FUNCTION tollgate_rate_admit(p_key TEXT, p_window BIGINT, p_limit INTEGER)
RETURNS TABLE (hit BIGINT, used BIGINT, wait_ms BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_now BIGINT;
    v_used BIGINT;
    v_oldest BIGINT;
    v_hit BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tollgate.rate:' || p_key));
    v_now := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
    DELETE FROM cluster_rate_hits WHERE key_id = p_key AND at <= v_now - p_window;
    SELECT COUNT(*), MIN(at) INTO v_used, v_oldest FROM cluster_rate_hits WHERE key_id = p_key;
    IF v_used < p_limit THEN
        INSERT INTO cluster_rate_hits (key_id, at, expires_at)
            VALUES (p_key, v_now, v_now + p_window) RETURNING id INTO v_hit;
        RETURN QUERY SELECT v_hit, v_used + 1, COALESCE(v_oldest, v_now) + p_window - v_now;
        RETURN;
    END IF;
    -- Room comes back when the request that leaves limit - 1 behind it ages out.
    SELECT h.at INTO v_oldest FROM cluster_rate_hits h WHERE h.key_id = p_key
     ORDER BY h.at, h.id OFFSET v_used - p_limit LIMIT 1;
    RETURN QUERY SELECT NULL::BIGINT, v_used, GREATEST(v_oldest + p_window - v_now, 0);
END $$;

-- Key threshold events claimed by one instance: the first to see a key's spend reach a mark
-- inserts the row and sends the event; the others find it and do not.
CREATE TABLE cluster_key_events (
    key_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    mark BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, kind, mark)
);
