-- Coarser daily rollups for the dashboard's charts (SQLite flavour; kept in step with
-- migrations/postgres/0004_report_rollups.sql).
--
-- usage_daily has one row per day, key, account, group and model: at 10 million requests over
-- 90 days from 5,000 keys that is ~670,000 rows, and summing them costs about a second on
-- SQLite whatever the index (the aggregation itself is the cost). Charts split by model,
-- account or group do not need the key, and the preset split needs only the key, so two
-- narrower rollups answer them: ~12,000 and ~100,000 rows for the same traffic.
--
-- Both are derived from usage_daily by triggers, so whatever writes usage_daily (the usage
-- writer, an import, a correction or deletion by hand) keeps them exact, and the writer's code
-- is unchanged.
-- The preset split still joins the key's current preset at read time, as before.

CREATE TABLE usage_daily_totals (
    day TEXT NOT NULL,
    account_id TEXT NOT NULL DEFAULT '',
    group_id TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL,
    -- The platform of the first row, as in usage_daily.
    platform TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, account_id, group_id, model)
) WITHOUT ROWID;

CREATE TABLE usage_daily_keys (
    day TEXT NOT NULL,
    key_id TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, key_id)
) WITHOUT ROWID;

INSERT INTO usage_daily_totals (day, account_id, group_id, model, platform, requests, errors,
    input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
SELECT day, account_id, group_id, model, MIN(platform), SUM(requests), SUM(errors),
    SUM(input_tokens), SUM(output_tokens), SUM(cache_write_tokens), SUM(cache_read_tokens),
    SUM(cost_micros)
FROM usage_daily GROUP BY day, account_id, group_id, model;

INSERT INTO usage_daily_keys (day, key_id, requests, errors, input_tokens, output_tokens,
    cache_write_tokens, cache_read_tokens, cost_micros)
SELECT day, key_id, SUM(requests), SUM(errors), SUM(input_tokens), SUM(output_tokens),
    SUM(cache_write_tokens), SUM(cache_read_tokens), SUM(cost_micros)
FROM usage_daily GROUP BY day, key_id;

CREATE TRIGGER usage_daily_rollups_insert AFTER INSERT ON usage_daily
BEGIN
    INSERT INTO usage_daily_totals (day, account_id, group_id, model, platform, requests,
        errors, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
    VALUES (NEW.day, NEW.account_id, NEW.group_id, NEW.model, NEW.platform, NEW.requests,
        NEW.errors, NEW.input_tokens, NEW.output_tokens, NEW.cache_write_tokens,
        NEW.cache_read_tokens, NEW.cost_micros)
    ON CONFLICT (day, account_id, group_id, model) DO UPDATE SET
        requests = requests + excluded.requests,
        errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_micros = cost_micros + excluded.cost_micros;
    INSERT INTO usage_daily_keys (day, key_id, requests, errors, input_tokens, output_tokens,
        cache_write_tokens, cache_read_tokens, cost_micros)
    VALUES (NEW.day, NEW.key_id, NEW.requests, NEW.errors, NEW.input_tokens,
        NEW.output_tokens, NEW.cache_write_tokens, NEW.cache_read_tokens, NEW.cost_micros)
    ON CONFLICT (day, key_id) DO UPDATE SET
        requests = requests + excluded.requests,
        errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_micros = cost_micros + excluded.cost_micros;
END;

-- Rows are never relabelled (a different day, key, account, group or model is a different
-- row): the rollups above rely on it, so such an update is refused.
CREATE TRIGGER usage_daily_rollups_fixed BEFORE UPDATE ON usage_daily
WHEN NOT (OLD.day = NEW.day AND OLD.key_id = NEW.key_id AND OLD.account_id = NEW.account_id
    AND OLD.group_id = NEW.group_id AND OLD.model = NEW.model)
BEGIN
    SELECT RAISE(ABORT, 'usage_daily rows cannot change day, key, account, group or model');
END;

-- The writer's upserts only add to the sums: the difference goes in, one statement per table.
CREATE TRIGGER usage_daily_rollups_update AFTER UPDATE ON usage_daily
BEGIN
    UPDATE usage_daily_totals SET
        requests = requests + NEW.requests - OLD.requests,
        errors = errors + NEW.errors - OLD.errors,
        input_tokens = input_tokens + NEW.input_tokens - OLD.input_tokens,
        output_tokens = output_tokens + NEW.output_tokens - OLD.output_tokens,
        cache_write_tokens = cache_write_tokens + NEW.cache_write_tokens - OLD.cache_write_tokens,
        cache_read_tokens = cache_read_tokens + NEW.cache_read_tokens - OLD.cache_read_tokens,
        cost_micros = cost_micros + NEW.cost_micros - OLD.cost_micros
    WHERE day = NEW.day AND account_id = NEW.account_id AND group_id = NEW.group_id
        AND model = NEW.model;
    UPDATE usage_daily_keys SET
        requests = requests + NEW.requests - OLD.requests,
        errors = errors + NEW.errors - OLD.errors,
        input_tokens = input_tokens + NEW.input_tokens - OLD.input_tokens,
        output_tokens = output_tokens + NEW.output_tokens - OLD.output_tokens,
        cache_write_tokens = cache_write_tokens + NEW.cache_write_tokens - OLD.cache_write_tokens,
        cache_read_tokens = cache_read_tokens + NEW.cache_read_tokens - OLD.cache_read_tokens,
        cost_micros = cost_micros + NEW.cost_micros - OLD.cost_micros
    WHERE day = NEW.day AND key_id = NEW.key_id;
END;

-- A deleted row is taken out of both rollups; rollup rows nothing adds up to any more go too,
-- so reports list exactly the split values usage_daily has.
CREATE TRIGGER usage_daily_rollups_delete AFTER DELETE ON usage_daily
BEGIN
    UPDATE usage_daily_totals SET
        requests = requests - OLD.requests,
        errors = errors - OLD.errors,
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
        cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
        cost_micros = cost_micros - OLD.cost_micros
    WHERE day = OLD.day AND account_id = OLD.account_id AND group_id = OLD.group_id
        AND model = OLD.model;
    UPDATE usage_daily_keys SET
        requests = requests - OLD.requests,
        errors = errors - OLD.errors,
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
        cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
        cost_micros = cost_micros - OLD.cost_micros
    WHERE day = OLD.day AND key_id = OLD.key_id;
    DELETE FROM usage_daily_totals
    WHERE day = OLD.day AND account_id = OLD.account_id AND group_id = OLD.group_id
        AND model = OLD.model
        AND NOT EXISTS (SELECT 1 FROM usage_daily u WHERE u.day = OLD.day
            AND u.account_id = OLD.account_id AND u.group_id = OLD.group_id
            AND u.model = OLD.model);
    DELETE FROM usage_daily_keys
    WHERE day = OLD.day AND key_id = OLD.key_id
        AND NOT EXISTS (SELECT 1 FROM usage_daily u WHERE u.day = OLD.day
            AND u.key_id = OLD.key_id);
END;
