-- The preset split of the usage and margin charts, rolled up (SQLite flavour; kept in step with
-- migrations/postgres/0006_preset_rollup.sql).
--
-- Joining every (day, key) row of usage_daily_keys to its key's preset costs ~180 ms for 90 days
-- of 5,000 keys on SQLite (100,000 index lookups and a sort), whatever the index. This rollup has
-- one row per day and preset (~450 rows for the same 90 days). It keeps the meaning the join
-- had: usage counts under the key's *current* preset ('' for none), so changing a key's preset
-- moves its past usage along, as the sales side of the margin report does.
--
-- Derived from usage_daily_keys by triggers (which migration 0004 derives from usage_daily).
-- A row whose request count falls to zero is removed: every usage row counts at least one
-- request. Keys are never hard-deleted (deleting a key is a soft delete), so a key's preset is
-- always found.

CREATE TABLE usage_daily_presets (
    day TEXT NOT NULL,
    preset_id TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, preset_id)
) WITHOUT ROWID;

INSERT INTO usage_daily_presets (day, preset_id, requests, errors, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
SELECT d.day, COALESCE(k.preset_id, ''), SUM(d.requests), SUM(d.errors), SUM(d.input_tokens), SUM(d.output_tokens), SUM(d.cache_write_tokens), SUM(d.cache_read_tokens), SUM(d.cost_micros)
FROM usage_daily_keys d LEFT JOIN api_keys k ON k.id = d.key_id
GROUP BY d.day, COALESCE(k.preset_id, '');

CREATE TRIGGER usage_daily_presets_insert AFTER INSERT ON usage_daily_keys
BEGIN
    INSERT INTO usage_daily_presets (day, preset_id, requests, errors, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
    VALUES (NEW.day, COALESCE((SELECT preset_id FROM api_keys WHERE id = NEW.key_id), ''), NEW.requests, NEW.errors, NEW.input_tokens, NEW.output_tokens, NEW.cache_write_tokens, NEW.cache_read_tokens, NEW.cost_micros)
    ON CONFLICT (day, preset_id) DO UPDATE SET
        requests = requests + excluded.requests,
        errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_micros = cost_micros + excluded.cost_micros;
END;

CREATE TRIGGER usage_daily_presets_update AFTER UPDATE ON usage_daily_keys
BEGIN
    UPDATE usage_daily_presets SET
        requests = requests + NEW.requests - OLD.requests,
        errors = errors + NEW.errors - OLD.errors,
        input_tokens = input_tokens + NEW.input_tokens - OLD.input_tokens,
        output_tokens = output_tokens + NEW.output_tokens - OLD.output_tokens,
        cache_write_tokens = cache_write_tokens + NEW.cache_write_tokens - OLD.cache_write_tokens,
        cache_read_tokens = cache_read_tokens + NEW.cache_read_tokens - OLD.cache_read_tokens,
        cost_micros = cost_micros + NEW.cost_micros - OLD.cost_micros
    WHERE day = NEW.day AND preset_id = COALESCE((SELECT preset_id FROM api_keys WHERE id = NEW.key_id), '');
END;

CREATE TRIGGER usage_daily_presets_delete AFTER DELETE ON usage_daily_keys
BEGIN
    UPDATE usage_daily_presets SET
        requests = requests - OLD.requests,
        errors = errors - OLD.errors,
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
        cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
        cost_micros = cost_micros - OLD.cost_micros
    WHERE day = OLD.day AND preset_id = COALESCE((SELECT preset_id FROM api_keys WHERE id = OLD.key_id), '');
    DELETE FROM usage_daily_presets
    WHERE day = OLD.day AND preset_id = COALESCE((SELECT preset_id FROM api_keys WHERE id = OLD.key_id), '') AND requests = 0;
END;

-- A key moved to another preset takes its usage along (rare: an admin edit; it reads the key's
-- rows of usage_daily_keys once).
CREATE TRIGGER usage_daily_presets_move AFTER UPDATE OF preset_id ON api_keys
WHEN COALESCE(OLD.preset_id, '') <> COALESCE(NEW.preset_id, '')
BEGIN
    UPDATE usage_daily_presets SET
        requests = requests - (SELECT k.requests FROM usage_daily_keys k WHERE k.day = usage_daily_presets.day AND k.key_id = NEW.id),
        errors = errors - (SELECT k.errors FROM usage_daily_keys k WHERE k.day = usage_daily_presets.day AND k.key_id = NEW.id),
        input_tokens = input_tokens - (SELECT k.input_tokens FROM usage_daily_keys k WHERE k.day = usage_daily_presets.day AND k.key_id = NEW.id),
        output_tokens = output_tokens - (SELECT k.output_tokens FROM usage_daily_keys k WHERE k.day = usage_daily_presets.day AND k.key_id = NEW.id),
        cache_write_tokens = cache_write_tokens - (SELECT k.cache_write_tokens FROM usage_daily_keys k WHERE k.day = usage_daily_presets.day AND k.key_id = NEW.id),
        cache_read_tokens = cache_read_tokens - (SELECT k.cache_read_tokens FROM usage_daily_keys k WHERE k.day = usage_daily_presets.day AND k.key_id = NEW.id),
        cost_micros = cost_micros - (SELECT k.cost_micros FROM usage_daily_keys k WHERE k.day = usage_daily_presets.day AND k.key_id = NEW.id)
    WHERE preset_id = COALESCE(OLD.preset_id, '')
        AND day IN (SELECT day FROM usage_daily_keys WHERE key_id = NEW.id);
    DELETE FROM usage_daily_presets
    WHERE preset_id = COALESCE(OLD.preset_id, '') AND requests = 0;
    INSERT INTO usage_daily_presets (day, preset_id, requests, errors, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
    SELECT day, COALESCE(NEW.preset_id, ''), requests, errors, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros
    FROM usage_daily_keys WHERE key_id = NEW.id
    ON CONFLICT (day, preset_id) DO UPDATE SET
        requests = requests + excluded.requests,
        errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_micros = cost_micros + excluded.cost_micros;
END;
