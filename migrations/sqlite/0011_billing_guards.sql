-- Billing that cannot be dodged (SQLite flavour; kept in step with
-- migrations/postgres/0011_billing_guards.sql).

-- A 2xx answer that ended without readable usage is billed from an estimate (input from the
-- request, output from the content that went out); such events say so.
ALTER TABLE usage_events ADD COLUMN usage_estimated BOOLEAN NOT NULL DEFAULT 0;

-- Strict mode: the relay lowers a request's output ceiling (max_tokens and its equivalents)
-- to what the key's remaining quota and daily budget can pay for. Off by default.
ALTER TABLE api_keys ADD COLUMN strict_max_tokens BOOLEAN NOT NULL DEFAULT 0;

-- Server-side tools (web search, code execution, grounding) cost fees on top of tokens. Keys
-- that existed before keep them; the trial preset refuses them from now on.
ALTER TABLE api_keys ADD COLUMN allow_server_tools BOOLEAN NOT NULL DEFAULT 1;

UPDATE key_presets SET config = json_set(config, '$.settings.allowServerTools', json('false'))
WHERE id = 'preset-trial' AND json_valid(config);
